using DistTrainer.Cli.Commands;
using DistTrainer.Tests;

namespace DistTrainer.Cli.Tests;

/// <summary>`node --config FILE`: HOCON with includes resolved next to the including file.</summary>
public sealed class NodeConfigTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Config_file_should_include_a_file_beside_it_and_override_its_keys()
    {
        Directory.CreateDirectory(Path.Combine(_folder.Path, "deploy"));
        _folder.Write("base.hocon", "disttrainer { chunk-size = 64000b, step-timeout = 10s }\n");
        var path = _folder.Write(Path.Combine("deploy", "over.hocon"), "include \"../base.hocon\"\ndisttrainer.step-timeout = 30s\n");

        var config = NodeCommand.LoadConfig(path)!;

        Assert.Equal(64000, config.GetByteSize("disttrainer.chunk-size"));
        Assert.Equal(TimeSpan.FromSeconds(30), config.GetTimeSpan("disttrainer.step-timeout"));
    }
}
