using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Event;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Serialization;

namespace DistTrainer.Actors.Transfer;

/// <summary>
/// Optional bulk path for chunked tensors (<c>disttrainer.bulk-channel = on</c>): a plain TCP connection per pair of
/// nodes, next to Akka.Remote's. The sending node's <see cref="TransferOutbox"/> hands a transfer's chunks and its
/// header to a <see cref="BulkWriter"/>, which writes them in order on its own thread: a chunk as its fields and raw
/// float bytes (read straight into the receiving message's array), any other message with the project's serializer.
/// The receiving node's reader tells each message to the target actor as if it came from the original sender, so the
/// actors see exactly what Akka.Remote would have delivered. Only <see cref="DistTrainerSerializer"/> payloads and
/// chunks of at most 16M floats are accepted. Heartbeats never share this connection, and TCP's own
/// back-pressure (a bounded queue in front of a blocking socket) is the flow control.
/// </summary>
public sealed class BulkChannel : IDisposable
{
    private readonly ExtendedActorSystem _system;
    private readonly TcpListener _listener;
    private readonly ILoggingAdapter _log;
    internal const byte MessageFrame = 0;
    internal const byte ChunkFrame = 1;
    private const int MaxFloats = 16 << 20;
    private readonly ConcurrentDictionary<string, IActorRef> _refs = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    public BulkChannel(ExtendedActorSystem system, string host)
    {
        _system = system;
        _log = Logging.GetLogger(system, typeof(BulkChannel));
        _listener = new TcpListener(IPAddress.TryParse(host, out var ip) ? ip : IPAddress.Any, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        new Thread(AcceptLoop) { IsBackground = true, Name = "disttrainer-bulk-accept" }.Start();
        system.RegisterOnTermination(Dispose);
    }

    /// <summary>The port other nodes connect to (told to them in <see cref="Cluster.FlowAck"/>).</summary>
    public int Port { get; }

    public BulkWriter Connect(string host, int port) => new(_system, host, port);

    public void Dispose()
    {
        _disposed = true;
        _listener.Stop();
    }

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            try
            {
                var socket = _listener.AcceptSocket();
                socket.NoDelay = true;
                new Thread(() => ReadLoop(socket)) { IsBackground = true, Name = "disttrainer-bulk-read" }.Start();
            }
            catch (SocketException) when (_disposed)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void ReadLoop(Socket socket)
    {
        try
        {
            using var stream = new BufferedStream(new NetworkStream(socket, ownsSocket: true), 1 << 20);
            using var reader = new BinaryReader(stream);
            while (!_disposed)
            {
                int kind;
                try
                {
                    kind = reader.ReadByte();
                }
                catch (EndOfStreamException)
                {
                    return;
                }
                var target = reader.ReadString();
                var sender = reader.ReadString();
                object message;
                if (kind == ChunkFrame)
                {
                    // A chunk's floats come straight off the socket into the message's own array: no serializer copy.
                    var transferId = reader.ReadInt64();
                    var index = reader.ReadInt32();
                    var count = reader.ReadInt32();
                    var total = reader.ReadInt32();
                    var offset = reader.ReadInt32();
                    var length = reader.ReadInt32();
                    if (length < 0 || length > MaxFloats)
                    {
                        _log.Warning("bulk channel: refused a chunk of {0} floats; closing the connection", length);
                        return;
                    }
                    var data = new float[length];
                    stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
                    message = new TensorChunk(transferId, index, count, total, offset, data);
                }
                else
                {
                    var serializerId = reader.ReadInt32();
                    var manifest = reader.ReadString();
                    var length = reader.ReadInt32();
                    if (serializerId != DistTrainerSerializer.SerializerId || length < 0 || length > MaxFloats * sizeof(float))
                    {
                        _log.Warning("bulk channel: refused a message with serializer {0} and {1} bytes; closing the connection", serializerId, length);
                        return;
                    }
                    var payload = reader.ReadBytes(length);
                    message = _system.Serialization.Deserialize(payload, serializerId, manifest);
                }
                Resolve(target).Tell(message, Resolve(sender));
            }
        }
        catch (Exception e) when (e is IOException or SocketException or System.Runtime.Serialization.SerializationException or ObjectDisposedException)
        {
            if (!_disposed)
            {
                _log.Warning("bulk channel: a connection failed: {0}", e.Message);
            }
        }
    }

    private IActorRef Resolve(string path) => _refs.GetOrAdd(path, p => _system.Provider.ResolveActorRef(p));
}

/// <summary>One node's outgoing bulk connection: a bounded queue drained in order by a dedicated thread.</summary>
public sealed class BulkWriter : IDisposable
{
    private readonly BlockingCollection<(IActorRef Target, object Message, IActorRef Sender)> _queue = new(64);
    private readonly ExtendedActorSystem _system;
    private readonly ILoggingAdapter _log;
    private readonly string _host;
    private readonly int _port;
    private readonly Dictionary<IActorRef, string> _paths = [];

    public BulkWriter(ExtendedActorSystem system, string host, int port)
    {
        _system = system;
        _log = Logging.GetLogger(system, typeof(BulkWriter));
        _host = host;
        _port = port;
        new Thread(Run) { IsBackground = true, Name = $"disttrainer-bulk-write-{host}:{port}" }.Start();
        system.RegisterOnTermination(Dispose);
    }

    /// <summary>False once the connection failed; the outbox then goes back to Akka.Remote.</summary>
    public bool Healthy { get; private set; } = true;

    /// <summary>Queues a message; blocks while 64 messages wait (back-pressure from the socket).</summary>
    public void Post(IActorRef target, object message, IActorRef sender)
    {
        try
        {
            _queue.Add((target, message, sender));
        }
        catch (InvalidOperationException)
        {
            Healthy = false;
        }
    }

    public void Dispose() => _queue.CompleteAdding();

    private string PathOf(IActorRef actor)
    {
        if (!_paths.TryGetValue(actor, out var path))
        {
            _paths[actor] = path = Akka.Serialization.Serialization.SerializedActorPath(actor);
        }
        return path;
    }

    private void Run()
    {
        try
        {
            using var client = new TcpClient { NoDelay = true, SendBufferSize = 1 << 20 };
            client.Connect(_host, _port);
            using var stream = new BufferedStream(client.GetStream(), 1 << 20);
            using var writer = new BinaryWriter(stream);
            foreach (var (target, message, sender) in _queue.GetConsumingEnumerable())
            {
                if (message is TensorChunk chunk)
                {
                    writer.Write(BulkChannel.ChunkFrame);
                    writer.Write(PathOf(target));
                    writer.Write(PathOf(sender));
                    writer.Write(chunk.TransferId);
                    writer.Write(chunk.Index);
                    writer.Write(chunk.Count);
                    writer.Write(chunk.TotalLength);
                    writer.Write(chunk.Offset);
                    writer.Write(chunk.Data.Length);
                    writer.Write(MemoryMarshal.AsBytes(chunk.Data.AsSpan()));
                }
                else
                {
                    var serializer = _system.Serialization.FindSerializerFor(message);
                    var bytes = serializer.ToBinary(message);
                    writer.Write(BulkChannel.MessageFrame);
                    writer.Write(PathOf(target));
                    writer.Write(PathOf(sender));
                    writer.Write(serializer.Identifier);
                    writer.Write(Akka.Serialization.Serialization.ManifestFor(serializer, message));
                    writer.Write(bytes.Length);
                    writer.Write(bytes);
                }
                if (_queue.Count == 0)
                {
                    writer.Flush();
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Healthy = false;
            _log.Warning("bulk channel to {0}:{1} failed: {2}; later transfers use Akka.Remote", _host, _port, e.Message);
        }
    }
}
