using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Configuration;
using DistTrainer.Actors;
using DistTrainer.Actors.Messages;
using DistTrainer.Actors.Transfer;

namespace DistTrainer.Cli.Bench;

/// <summary>
/// `disttrainer bench exchange`: one parameter-server/worker round trip between two processes on 127.0.0.1 over
/// Akka.Remote: the weights (ParametersSnapshot) go out, a gradient of the same size (PushGradients) comes back, both
/// chunked and flow-controlled as in training, by actors on the parameter server's and the workers' dispatchers. Each
/// side does one pass over the values per round trip (standing for the optimizer and the model) and no other copy:
/// the sender's values live in the outgoing tensor, the receiver keeps the received array
/// (<see cref="ChunkAssembler.TryKeep"/>). Reports MB/s (both directions) next to a plain TCP socket copy
/// of the same bytes (send N bytes, echo N bytes back) measured in the same run. The machine may be busy, so both are
/// measured the same way: <see cref="WarmUps"/> untimed round trips, then the timed ones alternate between the
/// exchange and the plain socket (each sees the same load), and the medians are compared.
/// </summary>
public static class ExchangeBench
{
    private const string SystemName = "bench";
    private const string EchoName = "echo";
    private const string PeerReady = "ready";
    private const int WarmUps = 3; // JIT tier-up, the first association, learning the peer's bulk port

    public static readonly OptionSpec[] Options =
    [
        new("floats", "tensor length (floats) sent each way per round trip", Default: "1000000"),
        new("reps", "timed round trips after 3 warm-ups (the median is reported)", Default: "21"),
        new("peer-port", "internal: run as the echoing peer on this port", Default: null),
        new("peer-bulk", "internal: the peer's disttrainer.bulk-channel (on | off)", Default: null),
        new("json", "print one single-line JSON result", TakesValue: false),
        new("help", "show this help", TakesValue: false),
    ];

    public static int Run(IReadOnlyList<string> args)
    {
        var options = ParsedOptions.Parse("bench exchange", args, Options);
        if (options.Flag("help"))
        {
            Console.WriteLine(ParsedOptions.Help("disttrainer bench exchange [options]", "Weights broadcast + gradient push round trip between two processes, against raw TCP.", Options));
            return 0;
        }
        options.NoPositionals();
        var floats = options.Int("floats", 1_000_000, min: 1);
        var reps = options.Int("reps", 21, min: 1);
        if (options.Has("peer-port"))
        {
            return RunPeer(options.Int("peer-port", 0, min: 1, max: 65535), floats, options.String("peer-bulk") == "on");
        }

        List<double> bulkTimes, rawTimes;
        int chunkBytes;
        using (var rawTcp = new RawTcpEcho(floats * sizeof(float)))
        {
            (bulkTimes, rawTimes, chunkBytes) = Measure(floats, reps, bulk: true, rawTcp);
        }
        var (akkaTimes, _, _) = Measure(floats, reps, bulk: false, rawTcp: null);
        var bytes = 2.0 * floats * sizeof(float);
        var exchange = Median(bulkTimes);
        var akka = Median(akkaTimes);
        var raw = Median(rawTimes);
        var result = new JsonObject
        {
            ["bench"] = "exchange",
            ["floats"] = floats,
            ["bytes_per_round_trip"] = (long)bytes,
            ["chunk_bytes"] = chunkBytes,
            ["processes"] = 2,
            ["warm_up_reps"] = WarmUps,
            ["reps"] = reps,
            ["transport"] = "bulk-channel",
            ["round_trip_ms"] = Math.Round(exchange * 1000, 2),
            ["mb_per_second"] = Math.Round(bytes / exchange / 1e6, 1),
            ["akka_remote_round_trip_ms"] = Math.Round(akka * 1000, 2),
            ["akka_remote_mb_per_second"] = Math.Round(bytes / akka / 1e6, 1),
            ["raw_tcp_round_trip_ms"] = Math.Round(raw * 1000, 2),
            ["raw_tcp_mb_per_second"] = Math.Round(bytes / raw / 1e6, 1),
            ["ratio_to_raw_tcp"] = Math.Round(raw / exchange, 3),
            ["akka_remote_ratio_to_raw_tcp"] = Math.Round(raw / akka, 3),
            ["rep_round_trip_ms"] = Milliseconds(bulkTimes),
            ["raw_tcp_rep_round_trip_ms"] = Milliseconds(rawTimes),
        };
        Console.WriteLine(options.Flag("json")
            ? result.ToJsonString()
            : string.Create(CultureInfo.InvariantCulture,
                $"exchange {floats:N0} floats each way: bulk channel {exchange * 1000:F1} ms ({bytes / exchange / 1e6:F0} MB/s), Akka.Remote only {akka * 1000:F1} ms ({bytes / akka / 1e6:F0} MB/s), raw TCP {raw * 1000:F1} ms ({bytes / raw / 1e6:F0} MB/s)"));
        return 0;
    }

    private static JsonArray Milliseconds(List<double> seconds) => new(seconds.Select(t => (JsonNode)Math.Round(t * 1000, 2)).ToArray());

    /// <summary>
    /// Round trips against a peer process, tensors over the bulk channel or over Akka.Remote only; with
    /// <paramref name="rawTcp"/>, each timed round trip is followed by a plain socket one.
    /// </summary>
    private static (List<double> Times, List<double> RawTimes, int ChunkBytes) Measure(int floats, int reps, bool bulk, RawTcpEcho? rawTcp)
    {
        var peerPort = FreePort();
        using var peer = StartPeer(peerPort, floats, bulk);
        var system = ActorSystem.Create(SystemName, Config(0, bulk));
        try
        {
            TransferFlow.Get(system);
            var echo = Resolve(system, peerPort, TimeSpan.FromSeconds(60));
            var settings = DistTrainerSettings.Create(system);
            var data = new float[floats];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = MathF.Sin(i) * 0.01f; // finite values: the receivers reject NaN/Inf
            }
            var driver = system.ActorOf(Props.Create(() => new Driver(echo, data, settings.ChunkFloats)).WithDispatcher(DistTrainerSettings.ParameterServerDispatcher), "driver");
            var times = new List<double>();
            var rawTimes = new List<double>();
            for (var r = 0; r < WarmUps + reps; r++)
            {
                var seconds = driver.Ask<double>(RoundTrip.Instance, TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
                var rawSeconds = rawTcp?.RoundTrip();
                if (r >= WarmUps)
                {
                    times.Add(seconds);
                    if (rawSeconds is { } raw)
                    {
                        rawTimes.Add(raw);
                    }
                }
            }
            return (times, rawTimes, settings.ChunkBytes);
        }
        finally
        {
            // The peer leaves first, and this side stops once it has seen the connection close: then neither side
            // tries to reach a system that is gone (which only logs errors).
            var disassociated = new TaskCompletionSource();
            system.ActorOf(Props.Create(() => new DisassociationWatch(disassociated)));
            peer.StandardInput.Close(); // the peer exits when its stdin closes
            if (!peer.WaitForExit(10_000))
            {
                peer.Kill(entireProcessTree: true);
            }
            disassociated.Task.Wait(TimeSpan.FromSeconds(5));
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    private static Config Config(int port, bool bulk) => ConfigurationFactory.ParseString($$"""
        akka {
          loglevel = WARNING
          stdout-loglevel = OFF
          loggers = ["DistTrainer.Actors.Simulation.StderrLogger, DistTrainer.Actors"]
          log-dead-letters = off
          actor.provider = remote
        }
        disttrainer.bulk-channel = {{(bulk ? "on" : "off")}}
        akka {
          # The transport settings of cluster.hocon, so the numbers are what training gets.
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{port}}, batching.enabled = false, maximum-frame-size = 128000b }
          # The peer leaving at the end is expected: no association lifecycle logs (a failed bulk channel still warns).
          remote.log-remote-lifecycle-events = off
        }
        """).WithFallback(DistTrainerConfig.Default);

    /// <summary>The peer process: an echo actor that answers each complete weights snapshot with a gradient of the same size.</summary>
    private static int RunPeer(int port, int floats, bool bulk)
    {
        var system = ActorSystem.Create(SystemName, Config(port, bulk));
        TransferFlow.Get(system);
        var settings = DistTrainerSettings.Create(system);
        system.ActorOf(Props.Create(() => new Echo(floats, settings.ChunkFloats, settings.MaxOpenTransfers)).WithDispatcher(DistTrainerSettings.WorkerDispatcher), EchoName);
        Console.WriteLine(PeerReady);
        Console.In.ReadToEnd();
        Console.SetError(TextWriter.Null); // the driver is done: its connection closing while this stops is expected
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return 0;
    }

    private static Process StartPeer(int port, int floats, bool bulk)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program to start the peer");
        var info = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }
        foreach (var arg in new[] { "bench", "exchange", "--peer-port", port.ToString(CultureInfo.InvariantCulture), "--floats", floats.ToString(CultureInfo.InvariantCulture), "--peer-bulk", bulk ? "on" : "off" })
        {
            info.ArgumentList.Add(arg);
        }
        var peer = Process.Start(info) ?? throw new InvalidOperationException("could not start the peer process");
        // Associating before the peer listens would only log refused connections: wait for its word.
        if (peer.StandardOutput.ReadLine() != PeerReady)
        {
            throw new InvalidOperationException("the peer process exited before it was ready");
        }
        return peer;
    }

    private static IActorRef Resolve(ActorSystem system, int port, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var selection = system.ActorSelection($"akka.tcp://{SystemName}@127.0.0.1:{port}/user/{EchoName}");
        while (true)
        {
            try
            {
                return selection.ResolveOne(TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
            }
            catch (ActorNotFoundException) when (clock.Elapsed < timeout)
            {
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>
    /// Plain socket round trips of the same bytes on one warm 127.0.0.1 connection: send n bytes, the other side (a
    /// thread of this process) reads them all and echoes n bytes back.
    /// </summary>
    private sealed class RawTcpEcho : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Socket _client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        private readonly Task _echo;
        private readonly byte[] _payload;
        private readonly byte[] _back;

        public RawTcpEcho(int bytes)
        {
            _payload = new byte[bytes];
            _back = new byte[bytes];
            _listener.Start();
            _echo = Task.Factory.StartNew(() =>
            {
                using var server = _listener.AcceptSocket();
                server.NoDelay = true;
                var buffer = new byte[bytes];
                while (ReadExactly(server, buffer))
                {
                    server.Send(buffer);
                }
            }, TaskCreationOptions.LongRunning);
            _client.Connect(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
        }

        /// <summary>One round trip; returns its time in seconds.</summary>
        public double RoundTrip()
        {
            var clock = Stopwatch.StartNew();
            var sending = Task.Run(() => _client.Send(_payload));
            if (!ReadExactly(_client, _back))
            {
                throw new IOException("the echo connection closed early");
            }
            sending.GetAwaiter().GetResult();
            return clock.Elapsed.TotalSeconds;
        }

        public void Dispose()
        {
            _client.Shutdown(SocketShutdown.Send); // the echo thread sees the end of the stream and stops
            _echo.GetAwaiter().GetResult();
            _client.Dispose();
            _listener.Stop();
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false if the connection ends before the first byte.</summary>
    private static bool ReadExactly(Socket socket, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0)
            {
                return read == 0 ? false : throw new IOException("the connection closed early");
            }
            read += n;
        }
        return true;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Completes <paramref name="seen"/> when the remote connection to the peer closes.</summary>
    private sealed class DisassociationWatch : ReceiveActor
    {
        public DisassociationWatch(TaskCompletionSource seen)
        {
            Context.System.EventStream.Subscribe(Self, typeof(Akka.Remote.DisassociatedEvent));
            Receive<Akka.Remote.DisassociatedEvent>(_ => seen.TrySetResult());
        }
    }

    private sealed class RoundTrip
    {
        public static readonly RoundTrip Instance = new();

        private RoundTrip()
        {
        }
    }

    /// <summary>
    /// The parameter-server side: sends the weights, times until the gradient is back and complete. Its weights live
    /// in an outgoing tensor, so the broadcast writes them without a copy; applying the gradient (here: taking its
    /// values, standing for the optimizer's pass) writes the next weights into a fresh one.
    /// </summary>
    private sealed class Driver : ReceiveActor
    {
        private readonly IActorRef _echo;
        private readonly int _chunkFloats;
        private readonly ChunkAssembler _assembler;
        private OutgoingTensor _weights; // read only once sent; held (not released) until the next weights replace it
        private long _transfer;
        private long _started;
        private IActorRef _asker = ActorRefs.Nobody;

        public Driver(IActorRef echo, float[] data, int chunkFloats)
        {
            _echo = echo;
            _chunkFloats = chunkFloats;
            _assembler = new ChunkAssembler(64, data.Length);
            _weights = OutgoingTensor.Create(data, ++_transfer, chunkFloats);
            Receive<RoundTrip>(_ =>
            {
                _asker = Sender;
                _started = Stopwatch.GetTimestamp();
                _weights.SendTo(Context.System, _echo, new ParametersSnapshot(_transfer, _weights.Length, _weights.TransferId, _weights.Inline), Self);
            });
            Receive<TensorChunk>(c => _assembler.Add(Sender, c, out _, out _));
            Receive<PushGradients>(p =>
            {
                if (!_assembler.TryTake(Sender, p.Length, p.TransferId, p.Gradients, _weights.Length, out var tensor, out var reason))
                {
                    throw new InvalidOperationException($"the gradient came back broken: {reason}");
                }
                var next = OutgoingTensor.Rent(_weights.Length, ++_transfer, _chunkFloats);
                tensor.CopyTo(next.Buffer);
                _weights.Release(); // back to the pool once the bulk writer is done with it too
                _weights = next;
                _asker.Tell(Stopwatch.GetElapsedTime(_started).TotalSeconds);
            });
        }

        protected override void PostStop() => _weights.Release();
    }

    /// <summary>
    /// The worker side: takes the weights and pushes a gradient of the same size back. It keeps the received array as
    /// its weights when it can (bulk channel) instead of copying it, and writes the gradient (here: a copy of the
    /// weights, standing for the model's pass) straight into the outgoing tensor's array.
    /// </summary>
    private sealed class Echo : ReceiveActor
    {
        private readonly ChunkAssembler _assembler;
        private float[] _weights; // a pooled array from the assembler, or this actor's own
        private long _transfer;

        public Echo(int floats, int chunkFloats, int maxOpenTransfers)
        {
            _weights = new float[floats];
            _assembler = new ChunkAssembler(maxOpenTransfers, floats);
            Receive<TensorChunk>(c => _assembler.Add(Sender, c, out _, out _));
            Receive<ParametersSnapshot>(s =>
            {
                if (!_assembler.TryTake(Sender, s.Length, s.TransferId, s.Weights, _weights.Length, out var tensor, out var reason))
                {
                    Console.Error.WriteLine($"peer: broken snapshot: {reason}");
                    return;
                }
                if (_assembler.TryKeep(out var kept))
                {
                    ChunkArrayPool.Received.Return(_weights); // the previous weights are read no more
                    _weights = kept;
                }
                else
                {
                    tensor.CopyTo(_weights);
                }
                var gradient = OutgoingTensor.Rent(_weights.Length, ++_transfer, chunkFloats);
                _weights.CopyTo(gradient.Buffer);
                gradient.SendTo(Context.System, Sender, new PushGradients(0, 0, s.Version, 0, s.Version, 1, 1, 0, 0, gradient.Length, gradient.TransferId, gradient.Inline, 0), Self);
                gradient.Release();
            });
        }
    }
}
