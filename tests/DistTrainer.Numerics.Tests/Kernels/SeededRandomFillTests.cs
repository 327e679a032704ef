namespace DistTrainer.Numerics.Tests.Kernels;

public class SeededRandomFillTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(1000)]
    public void FillFloats_should_write_exactly_the_values_of_as_many_NextFloat_calls_and_leave_the_same_state(int length)
    {
        var vector = SeededRandom.For(7, ~3L, 11);
        var scalar = vector;
        var filled = new float[length];

        vector.FillFloats(filled);
        var expected = Enumerable.Range(0, length).Select(_ => scalar.NextFloat()).ToArray();

        Assert.Equal(expected, filled);
        Assert.Equal(scalar.NextUInt64(), vector.NextUInt64());
    }
}
