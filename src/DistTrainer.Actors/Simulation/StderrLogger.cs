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
        Receive<LogEvent>(e => Console.Error.WriteLine($"[{e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToUpperInvariant()}] {e.LogSource}: {e.Message}"));
    }
}
