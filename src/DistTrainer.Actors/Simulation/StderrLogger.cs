using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace DistTrainer.Actors.Simulation;

/// <summary>Writes Akka log events to standard error, so a command's stdout stays clean for its JSON summary.</summary>
public sealed class StderrLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine(Format(e)));
    }

    internal static string Format(LogEvent e) =>
        $"[{e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToUpperInvariant()}] {e.LogSource}: {e.Message}";
}

/// <summary>
/// Akka's fallback logger (<c>akka.stdout-logger-class</c>), used before the configured loggers start and after they
/// stop at shutdown. Akka's own writes to stdout: a node printed "Remoting shut down" there while leaving.
/// </summary>
public sealed class StderrFallbackLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is LogEvent e)
        {
            Console.Error.WriteLine(StderrLogger.Format(e));
        }
    }
}
