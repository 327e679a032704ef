using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Tests.Kernels;

namespace DistTrainer.Numerics.Tests.Optimizers;

/// <summary>
/// The parameter server's step spread over slices, with a thread lending itself through <see cref="SpareThreads.Help"/>
/// the whole time, against the optimizer's one-pass TryStep.
/// </summary>
[Collection(nameof(SpareThreadsCollection))]
public sealed class SpreadStepTests : IDisposable
{
    private readonly IdleHelperThread _helper = new();

    public static TheoryData<OptimizerKind, int> Cases()
    {
        var cases = new TheoryData<OptimizerKind, int>();
        foreach (var kind in new[] { OptimizerKind.Sgd, OptimizerKind.Momentum, OptimizerKind.Nesterov, OptimizerKind.Adam })
        {
            foreach (var length in new[] { 1, 63, 64, 1000, 235_146 })
            {
                cases.Add(kind, length);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Spread_step_should_give_bit_for_bit_the_weights_and_state_of_one_pass(OptimizerKind kind, int length)
    {
        var options = new OptimizerOptions(kind, 0.05f, 0.9f, WeightDecay: 0.01f);
        var whole = options.Create(length);
        var sliced = options.Create(length);
        var spread = new SpreadStep(sliced);
        var weights = Values(length, 1);
        var expected = new float[length];
        var actual = new float[length];

        for (var step = 0; step < 3; step++)
        {
            var first = Values(length, 10 + step);
            var second = Values(length, 20 + step);
            Assert.True(whole.TryStep(weights, first, second, 0.25f, expected, []));
            Assert.True(spread.TryStep(weights, first, second, 0.25f, actual));
            Assert.Equal(expected, actual);
            Assert.Equal(whole.ExportState(), sliced.ExportState());
            weights = (float[])expected.Clone();
        }
    }

    [Theory]
    [InlineData(OptimizerKind.Momentum, 0)]
    [InlineData(OptimizerKind.Adam, 100_000)]   // a middle slice
    [InlineData(OptimizerKind.Sgd, 235_145)]    // the last element
    public void Spread_step_should_refuse_infinity_in_any_slice_and_keep_its_state(OptimizerKind kind, int at)
    {
        const int length = 235_146;
        var optimizer = new OptimizerOptions(kind, 0.05f).Create(length);
        var spread = new SpreadStep(optimizer);
        var weights = Values(length, 1);
        Assert.True(spread.TryStep(weights, Values(length, 2), [], 1f, new float[length]));
        var state = optimizer.ExportState();

        var gradient = Values(length, 3);
        gradient[at] = float.NegativeInfinity;
        Assert.False(spread.TryStep(weights, gradient, [], 1f, new float[length]));
        Assert.Equal(state, optimizer.ExportState());
    }

    [Fact]
    public void Spread_step_should_let_an_idle_thread_take_slices()
    {
        const int length = 235_146;
        var spread = new SpreadStep(new OptimizerOptions(OptimizerKind.Sgd, 0.05f).Create(length));
        var weights = Values(length, 1);
        var gradient = Values(length, 2);
        var next = new float[length];
        // The helper polls every few microseconds; over many steps it must have taken a slice at least once.
        for (var i = 0; i < 2000 && _helper.Helped == 0; i++)
        {
            Assert.True(spread.TryStep(weights, gradient, [], 1f, next));
        }
        Assert.True(_helper.Helped > 0);
    }

    [Fact]
    public void Spread_step_should_refuse_buffers_of_different_lengths() =>
        Assert.Throws<ArgumentException>(() => new SpreadStep(new OptimizerOptions(OptimizerKind.Sgd).Create(8)).TryStep(new float[8], new float[8], [], 1f, new float[7]));

    private static float[] Values(int length, int seed)
    {
        var random = SeededRandom.For(length, seed);
        return Enumerable.Range(0, length).Select(_ => 2 * random.NextFloat() - 1).ToArray();
    }

    public void Dispose() => _helper.Dispose();
}
