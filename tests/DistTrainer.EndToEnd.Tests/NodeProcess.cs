using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace DistTrainer.EndToEnd.Tests;

/// <summary>A real `disttrainer` child process with its stdout and stderr captured line by line; killed on dispose.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<(TimeSpan At, string Line)> _stderr = new();
    private readonly StringBuilder _stdout = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private NodeProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public TimeSpan Elapsed => _clock.Elapsed;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public IEnumerable<(TimeSpan At, string Line)> StderrLines => _stderr.ToArray();

    public string Stderr => string.Join('\n', _stderr.Select(l => l.Line));

    public static NodeProcess Start(string name, string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Paths.CliDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        NodeProcess? node = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null && node is not null)
            {
                lock (node._stdout)
                {
                    node._stdout.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null && node is not null)
            {
                node._stderr.Enqueue((node._clock.Elapsed, e.Data));
            }
        };
        node = new NodeProcess(name, process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Waits until a stderr line contains <paramref name="text"/>; returns when it was written.</summary>
    public async Task<TimeSpan> WaitForStderr(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            foreach (var (at, line) in _stderr)
            {
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    return at;
                }
            }
            if (_process.HasExited)
            {
                await Task.Delay(200);
                if (!_stderr.Any(l => l.Line.Contains(text, StringComparison.Ordinal)))
                {
                    throw new InvalidOperationException($"{Name} exited ({_process.ExitCode}) before writing \"{text}\":\n{Tail()}");
                }
                continue;
            }
            await Task.Delay(10);
        }
        throw new TimeoutException($"{Name} did not write \"{text}\" within {timeout.TotalSeconds} s:\n{Tail()}");
    }

    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds} s:\n{Tail()}");
        }
        return _process.ExitCode;
    }

    /// <summary>SIGSTOP: the process stays connected but does nothing until it is killed.</summary>
    public void Freeze()
    {
        const int sigStop = 19;
        if (Kill(_process.Id, sigStop) != 0)
        {
            throw new InvalidOperationException($"cannot stop {Name}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>SIGKILL: the process gets no chance to leave the cluster.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    public string Tail(int lines = 40) => string.Join('\n', _stderr.Select(l => l.Line).TakeLast(lines));

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    /// <summary>A TCP port free right now on 127.0.0.1 (for the seed node, whose address the others must know).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Where the repository and the built CLI are.</summary>
internal static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The CLI built in the same configuration as the tests.</summary>
    public static string CliDll { get; } = Path.Combine(RepoRoot, "src", "DistTrainer.Cli", "bin",
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug",
        "net10.0", "disttrainer.dll");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DistTrainer.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("DistTrainer.sln not found above " + AppContext.BaseDirectory);
    }
}
