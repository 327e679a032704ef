using BenchmarkDotNet.Attributes;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Optimizers;

namespace DistTrainer.Benchmarks;

/// <summary>
/// The parameter server's serial work once the last gradient of a sync step is in, for an MLP 784-256-128-10
/// (235,146 parameters) and SGD: separate passes (add the last part, scale by 1/n, optimizer step, copy into the
/// broadcast array, each a pass of its own, after a pass that checks the last part for NaN and infinity) against the
/// fused optimizer step that reads the parts in place, writes the new weights once (the server lends that array to
/// its workers) and checks them in the same pass.
/// Run: dotnet run -c Release --project tests/DistTrainer.Benchmarks -- --filter '*ParameterServerStepBenchmarks*'
/// </summary>
[Config(typeof(QuickConfig))]
[MemoryDiagnoser]
public class ParameterServerStepBenchmarks
{
    private const int Parameters = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;
    private readonly float[] _weights = new float[Parameters];
    private readonly float[] _sum = new float[Parameters];
    private readonly float[] _first = new float[Parameters];
    private readonly float[] _last = new float[Parameters];
    private readonly float[] _broadcast = new float[Parameters];
    private readonly IOptimizer _sgd = new Sgd(1e-6f, 0f);

    /// <summary>Gradient parts in the step: 1 (one worker) or 2 (two workers, the first already summed on arrival).</summary>
    [Params(1, 2)]
    public int Parts { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        foreach (var array in new[] { _weights, _first, _last })
        {
            for (var i = 0; i < array.Length; i++)
            {
                array[i] = random.NextSingle() - 0.5f;
            }
        }
        _first.CopyTo(_sum, 0);
    }

    [Benchmark(Baseline = true)]
    public void SeparatePasses()
    {
        var gradient = _last;
        if (!AllFinite(_last))
        {
            throw new InvalidOperationException("the benchmark's gradient is finite");
        }
        if (Parts == 2)
        {
            ElementWise.Add(_last, _sum);
            gradient = _sum;
        }
        ElementWise.Scale(gradient, 1f); // 1: keeps the inputs unchanged from one invocation to the next
        _sgd.Step(_weights, gradient);
        _weights.CopyTo(_broadcast, 0);
        if (Parts == 2)
        {
            _first.CopyTo(_sum, 0); // not part of the step: restores the first part's sum
        }
    }

    [Benchmark]
    public void Fused()
    {
        if (Parts == 2)
        {
            Check(_sgd.TryStep(_weights, _sum, _last, 1f, _broadcast, []));
            _first.CopyTo(_sum, 0); // the same restore as the baseline, so both carry its cost
        }
        else
        {
            Check(_sgd.TryStep(_weights, _last, [], 1f, _broadcast, []));
        }
    }

    private static void Check(bool applied)
    {
        if (!applied)
        {
            throw new InvalidOperationException("the benchmark's step is finite");
        }
    }

    /// <summary>The parameter server's separate check of a part (ReceivedTensor.IsFinite): x·0 is NaN only for NaN and ±∞.</summary>
    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        var i = 0;
        var acc = System.Numerics.Vector<float>.Zero;
        for (; i <= values.Length - System.Numerics.Vector<float>.Count; i += System.Numerics.Vector<float>.Count)
        {
            acc += new System.Numerics.Vector<float>(values[i..]) * System.Numerics.Vector<float>.Zero;
        }
        var scalar = System.Numerics.Vector.Sum(acc);
        for (; i < values.Length; i++)
        {
            scalar += values[i] * 0f;
        }
        return float.IsFinite(scalar);
    }

}
