using Akka.Configuration;

namespace DistTrainer.Actors;

/// <summary>The library's embedded reference.conf: serializer binding and <c>disttrainer { }</c> defaults.</summary>
public static class DistTrainerConfig
{
    public const string ResourceName = "DistTrainer.Actors.reference.conf";

    private static readonly Lazy<Config> _default = new(() =>
        ConfigurationFactory.FromResource(ResourceName, typeof(DistTrainerConfig).Assembly));

    /// <summary>Every ActorSystem the project creates uses <c>config.WithFallback(DistTrainerConfig.Default)</c>.</summary>
    public static Config Default => _default.Value;
}
