using BenchmarkDotNet.Attributes;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Benchmarks;

/// <summary>
/// The gather in front of a shuffled training step: 256 random rows of 784 floats out of a 25,600-row table (80 MB,
/// the `bench sim` data), copied row by row against <see cref="RowGather.Gather"/>, which prefetches rows ahead. Each
/// invocation takes the next batch of one shuffled order, so the rows come from DRAM as in training.
/// Run: dotnet run -c Release --project tests/DistTrainer.Benchmarks -- --filter '*RowGatherBenchmarks*'
/// </summary>
[Config(typeof(QuickConfig))]
[MemoryDiagnoser]
public class RowGatherBenchmarks
{
    private const int Width = 784;
    private const int TableRows = 25_600;
    private const int Batch = 256;
    private readonly float[] _table = new float[Width * TableRows];
    private readonly float[] _batch = new float[Width * Batch];
    private int[] _order = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        for (var i = 0; i < _table.Length; i++)
        {
            _table[i] = random.NextSingle();
        }
        _order = Enumerable.Range(0, TableRows).OrderBy(_ => random.Next()).ToArray();
    }

    private ReadOnlySpan<int> NextRows()
    {
        if (_next + Batch > TableRows)
        {
            _next = 0;
        }
        var rows = _order.AsSpan(_next, Batch);
        _next += Batch;
        return rows;
    }

    [Benchmark(Baseline = true)]
    public void RowByRow()
    {
        var rows = NextRows();
        for (var i = 0; i < rows.Length; i++)
        {
            _table.AsSpan(rows[i] * Width, Width).CopyTo(_batch.AsSpan(i * Width, Width));
        }
    }

    [Benchmark]
    public void Prefetched() => RowGather.Gather(_table, Width, NextRows(), _batch);

}
