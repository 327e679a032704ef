using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Tests.Kernels;

/// <summary>
/// One-thread products whose row blocks idle threads may take (<c>idleThreadsMayHelp</c>), with a thread lending
/// itself through <see cref="SpareThreads.Help"/> the whole time, against the same product run alone.
/// </summary>
[Collection(nameof(SpareThreadsCollection))]
public sealed class GemmHelpedTests : IDisposable
{
    private readonly IdleHelperThread _helper = new();

    public static TheoryData<string, string, int, int, int> Cases()
    {
        var cases = new TheoryData<string, string, int, int, int>();
        foreach (var path in new[] { nameof(GemmPath.Vector512), nameof(GemmPath.Vector256), nameof(GemmPath.Scalar) })
        {
            cases.Add(path, "TN", 784, 256, 128); // the first layer's weight gradient at half of batch 256
            cases.Add(path, "TN", 256, 128, 134);
            cases.Add(path, "NN", 128, 256, 784); // four blocks of depth: each round accumulates onto the last
            cases.Add(path, "NT", 130, 300, 270); // edge rows and columns in the last blocks
            cases.Add(path, "TN", 145, 1100, 600); // several blocks of B in both directions
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_product_idle_threads_help_with_should_equal_the_product_alone_bit_for_bit(string pathName, string op, int m, int n, int k)
    {
        var path = Enum.Parse<GemmPath>(pathName);
        var random = new Random(m + n + k);
        var a = Values(random, m * k);
        var b = Values(random, k * n);
        var start = Values(random, m * n);
        foreach (var accumulate in new[] { false, true })
        {
            var alone = (float[])start.Clone();
            Gemm.Multiply(op == "TN", op == "NT", m, n, k, a, b, alone, accumulate, threads: 1, path);
            for (var round = 0; round < 5; round++)
            {
                var helped = (float[])start.Clone();
                Gemm.Multiply(op == "TN", op == "NT", m, n, k, a, b, helped, accumulate, threads: 1, path, idleThreadsMayHelp: true);
                Assert.Equal(alone, helped);
            }
        }
    }

    [Fact]
    public void An_idle_thread_should_take_row_blocks_of_a_product_it_may_help_with()
    {
        var random = new Random(5);
        var a = Values(random, 128 * 784);
        var b = Values(random, 128 * 256);
        var c = new float[784 * 256];
        // The helper polls every few microseconds; over many products it must have taken a block at least once.
        for (var i = 0; i < 5000 && _helper.Helped == 0; i++)
        {
            Gemm.MultiplyTN(784, 256, 128, a, b, c, accumulate: false, idleThreadsMayHelp: true);
        }
        Assert.True(_helper.Helped > 0);
    }

    [Fact]
    public void An_mlp_gradient_idle_threads_help_with_should_equal_the_gradient_alone_bit_for_bit()
    {
        var mlp = new Mlp(Mlp.CreateSpec(784, [256, 128], 10, Activation.Relu, TaskKind.Classification));
        var weights = new float[mlp.ParameterCount];
        mlp.Initialize(weights, seed: 3);
        const int rows = 134;
        var random = new Random(11);
        var features = Values(random, rows * 784);
        var targets = Enumerable.Range(0, rows).Select(i => (float)(i % 10)).ToArray();
        var ids = Enumerable.Range(0, rows).ToArray();
        var alone = new float[mlp.ParameterCount];
        var helped = new float[mlp.ParameterCount];
        var helpedWorkspace = mlp.CreateWorkspace(rows);
        helpedWorkspace.IdleThreadsMayHelp = true;

        var lossAlone = mlp.AccumulateGradient(weights, new Batch(features, targets, ids, 0), alone, mlp.CreateWorkspace(rows));
        var lossHelped = mlp.AccumulateGradient(weights, new Batch(features, targets, ids, 0), helped, helpedWorkspace);

        Assert.Equal(lossAlone, lossHelped);
        Assert.Equal(alone, helped);
    }

    private static float[] Values(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => random.NextSingle() * 2 - 1).ToArray();

    public void Dispose() => _helper.Dispose();
}

