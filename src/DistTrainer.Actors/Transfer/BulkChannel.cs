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
/// nodes, next to Akka.Remote's. The sending actor (see <see cref="TransferFlow.Send"/>) or the node's
/// <see cref="TransferOutbox"/> hands a whole transfer (its tensor and its header) to a <see cref="BulkWriter"/> in one
/// step, which writes it in order on its own thread as one frame: the tensor's chunk layout (index, offset, length of
/// each chunk), the header serialized with the project's serializer, then the tensor's raw float bytes. The receiving
/// node's reader tells the chunk and the header to the target actor as if they came from the original sender. Only
/// <see cref="DistTrainerSerializer"/> headers and tensors of at most 16M floats are accepted. Heartbeats never share
/// this connection, and TCP's own back-pressure (a bounded queue in front of a blocking socket) is the flow control.
/// Throughput comes from doing little per chunk, as a plain socket copy does: the writer sends the values straight
/// from the tensor's own array in one write, the reader checks the layout (<see cref="ChunkLayout"/>: the checks of
/// <see cref="ChunkAssembler"/>) and reads the values in one read straight into one pooled array
/// (<see cref="ChunkArrayPool.Received"/>), which reaches the actor as a single whole-tensor chunk told together with
/// its header: one mailbox run per transfer, whatever the chunk size.
/// </summary>
public sealed class BulkChannel : IDisposable
{
    private readonly ExtendedActorSystem _system;
    private readonly TcpListener _listener;
    private readonly ILoggingAdapter _log;
    internal const byte TransferFrame = 3; // 0 and 1 were the per-chunk frames of earlier versions: refused
    private const int MaxFloats = 16 << 20;
    private const int MaxHeaderBytes = 1 << 20; // a header names its tensor, it does not carry it
    internal const int StreamBufferBytes = 8 << 10;
    internal const int SocketBufferBytes = 4 << 20;
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
                socket.ReceiveBufferSize = SocketBufferBytes;
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
        var layout = new ChunkLayout();
        try
        {
            using var stream = new BufferedStream(new NetworkStream(socket, ownsSocket: true), StreamBufferBytes);
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
                if (kind != TransferFrame)
                {
                    _log.Warning("bulk channel: refused a frame of kind {0}; closing the connection", kind);
                    return;
                }
                var target = Resolve(reader.ReadString());
                var sender = Resolve(reader.ReadString());
                if (!ReadTransfer(reader, stream, layout, sender, out var chunk, out var header))
                {
                    return;
                }
                // Both at once, the chunk first: one mailbox run per transfer, and the header finds its chunk.
                if (chunk is not null)
                {
                    target.Tell(chunk, sender);
                }
                target.Tell(header, sender);
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

    /// <summary>
    /// Reads one transfer: its chunk layout, its header message, then its values. A valid layout gives a single
    /// whole-tensor <paramref name="chunk"/>, its values read from the socket straight into a pooled array (the
    /// receiving <see cref="ChunkAssembler"/> gives it back); an invalid one is logged with its reason and its values
    /// skipped (no chunk), so the header finds no chunks. False when the frame cannot be trusted (the connection is
    /// then closed).
    /// </summary>
    private bool ReadTransfer(BinaryReader reader, Stream stream, ChunkLayout layout, IActorRef sender, out TensorChunk? chunk, out object header)
    {
        chunk = null;
        header = "";
        var transferId = reader.ReadInt64();
        var count = reader.ReadInt32();
        var total = reader.ReadInt32();
        var sent = reader.ReadInt32();
        if (total is <= 0 or > MaxFloats || count <= 0 || count > total || sent < 0 || sent > count)
        {
            _log.Warning("bulk channel: refused a tensor of {0} floats in {1} chunks ({2} sent); closing the connection", total, count, sent);
            return false;
        }
        layout.Reset(count, sent);
        for (var k = 0; k < sent; k++)
        {
            layout.Set(k, reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt32());
        }
        if (layout.PayloadFloats() is < 0 or > MaxFloats)
        {
            _log.Warning("bulk channel: refused transfer {0} with a chunk of negative length or over {1} floats in all; closing the connection", transferId, MaxFloats);
            return false;
        }
        var serializerId = reader.ReadInt32();
        var manifest = reader.ReadString();
        var size = reader.ReadInt32();
        if (serializerId != DistTrainerSerializer.SerializerId || size is < 0 or > MaxHeaderBytes)
        {
            _log.Warning("bulk channel: refused a header with serializer {0} and {1} bytes; closing the connection", serializerId, size);
            return false;
        }
        header = _system.Serialization.Deserialize(reader.ReadBytes(size), serializerId, manifest);
        if (layout.Check(total) is { } reason)
        {
            _log.Warning("bulk channel: transfer {0} from {1} rejected: {2}", transferId, sender.Path, reason);
            layout.Skip(stream);
            return true;
        }
        var data = ChunkArrayPool.Received.Rent(total);
        layout.ReadInto(stream, data);
        chunk = new TensorChunk(transferId, 0, 1, total, 0, data);
        return true;
    }

    private IActorRef Resolve(string path) => _refs.GetOrAdd(path, p => _system.Provider.ResolveActorRef(p));
}

/// <summary>One node's outgoing bulk connection: a bounded queue of transfers drained in order by a dedicated thread.</summary>
public sealed class BulkWriter : IDisposable
{
    private const int QueuedTransfers = 8;
    private readonly BlockingCollection<Transfer> _queue = new(QueuedTransfers);
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

    /// <summary>
    /// Queues the chunks of <paramref name="tensor"/> then <paramref name="header"/> for <paramref name="target"/>;
    /// blocks while <see cref="QueuedTransfers"/> transfers wait (back-pressure from the socket).
    /// </summary>
    public void Post(IActorRef target, OutgoingTensor tensor, object header, IActorRef sender)
    {
        tensor.Hold();
        try
        {
            _queue.Add(new Transfer(target, tensor, header, sender));
        }
        catch (InvalidOperationException)
        {
            Healthy = false;
            tensor.Unhold();
        }
    }

    /// <summary>Like <see cref="Post"/> but never blocks: false when the queue is full or closed.</summary>
    internal bool TryPost(IActorRef target, OutgoingTensor tensor, object header, IActorRef sender)
    {
        tensor.Hold();
        try
        {
            if (_queue.TryAdd(new Transfer(target, tensor, header, sender)))
            {
                return true;
            }
        }
        catch (InvalidOperationException)
        {
            Healthy = false;
        }
        tensor.Unhold();
        return false;
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
            using var client = new TcpClient { NoDelay = true, SendBufferSize = BulkChannel.SocketBufferBytes };
            client.Connect(_host, _port);
            using var stream = new BufferedStream(client.GetStream(), BulkChannel.StreamBufferBytes);
            using var writer = new BinaryWriter(stream);
            foreach (var transfer in _queue.GetConsumingEnumerable())
            {
                var target = PathOf(transfer.Target);
                var sender = PathOf(transfer.Sender);
                // The chunk layout and the header, then the values straight from the tensor's own array: one
                // socket write for them, no copy, and nothing the reader waits for after the values.
                var tensor = transfer.Tensor;
                writer.Write(BulkChannel.TransferFrame);
                writer.Write(target);
                writer.Write(sender);
                writer.Write(tensor.TransferId);
                writer.Write(tensor.ChunkCount);
                writer.Write(tensor.Length);
                writer.Write(tensor.ChunkCount); // all of them sent
                for (var i = 0; i < tensor.ChunkCount; i++)
                {
                    var (offset, length) = tensor.ChunkAt(i);
                    writer.Write(i);
                    writer.Write(offset);
                    writer.Write(length);
                }
                var serializer = _system.Serialization.FindSerializerFor(transfer.Header);
                var bytes = serializer.ToBinary(transfer.Header);
                writer.Write(serializer.Identifier);
                writer.Write(Akka.Serialization.Serialization.ManifestFor(serializer, transfer.Header));
                writer.Write(bytes.Length);
                writer.Write(bytes);
                writer.Write(MemoryMarshal.AsBytes(tensor.Data));
                if (_queue.Count == 0)
                {
                    writer.Flush();
                }
                transfer.Tensor.Unhold(); // its values are in the socket's buffer now
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Healthy = false;
            _log.Warning("bulk channel to {0}:{1} failed: {2}; later transfers use Akka.Remote", _host, _port, e.Message);
        }
    }

    private sealed record Transfer(IActorRef Target, OutgoingTensor Tensor, object Header, IActorRef Sender);
}
