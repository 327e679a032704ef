using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace DistTrainer.Benchmarks;

/// <summary>The benchmarks' job: a short run in this process, ratios as "1.32x faster".</summary>
internal sealed class QuickConfig : ManualConfig
{
    public QuickConfig()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("ShortRun-InProcess"));
        // "160.00x faster" reads better than a ratio of 0.006.
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend);
    }
}
