using System.Diagnostics;

namespace DistTrainer.Cli.Tests;

/// <summary>What a finished `disttrainer` process left behind.</summary>
internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string[] StandardErrorLines => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public string[] StandardOutputLines => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit code {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>Starts the real `disttrainer` program (the build output of DistTrainer.Cli next to the tests) as a child process.</summary>
internal static class DistTrainerProcess
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(60);
    private static readonly Lazy<string> _program = new(FindProgram);

    public static async Task<ProcessResult> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(_program.Value);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Plain, uncoloured output regardless of the environment the tests run in.
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        start.Environment["NO_COLOR"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(_timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"disttrainer {string.Join(' ', args)} did not finish within {_timeout.TotalSeconds} s");
        }
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>disttrainer.dll with its runtimeconfig, in the test output folder (copied there by the project reference).</summary>
    private static string FindProgram()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "disttrainer.dll");
        if (File.Exists(path) && File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
        {
            return path;
        }
        throw new InvalidOperationException($"disttrainer.dll and disttrainer.runtimeconfig.json not found in {AppContext.BaseDirectory}; build DistTrainer.Cli.Tests");
    }

    /// <summary>The dotnet host that runs the tests (DOTNET_HOST_PATH is set by `dotnet test`), else the one on PATH.</summary>
    private static string DotnetHost()
    {
        var fromHost = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromHost) && File.Exists(fromHost))
        {
            return fromHost;
        }
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }
        return OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
    }
}
