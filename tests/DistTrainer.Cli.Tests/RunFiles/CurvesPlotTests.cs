using System.Buffers.Binary;
using DistTrainer.Cli.Run;

namespace DistTrainer.Cli.Tests.RunFiles;

public sealed class CurvesPlotTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Curves_png_written_by_train_should_be_a_png_of_the_expected_size()
    {
        var dir = Path.Combine(_folder.Path, "run");
        Directory.CreateDirectory(dir);
        SmallRun.Train(dir);

        var png = File.ReadAllBytes(Path.Combine(dir, TrainingRun.CurvesFileName));

        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(CurvesPlot.Width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(CurvesPlot.Height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void Curves_plot_should_render_with_no_points_and_with_missing_values()
    {
        Assert.NotEmpty(CurvesPlot.Render([], "accuracy"));
        Assert.NotEmpty(CurvesPlot.Render([new CurvePoint(1, 0.5, double.NaN, double.NaN, 0.9)], "RMSE"));
    }
}
