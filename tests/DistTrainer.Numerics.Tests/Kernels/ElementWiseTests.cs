using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Tests.Kernels;

public class ElementWiseTests
{
    [Fact]
    public void Scale_should_match_reference_for_all_tail_lengths()
    {
        var random = new Random(5);
        foreach (var length in Enumerable.Range(0, 3 * 16 + 2).Append(235_146))
        {
            var x = Enumerable.Range(0, length).Select(_ => random.NextSingle() - 0.5f).ToArray();
            var expected = (float[])x.Clone();
            ElementWise.ScaleReference(expected, 1f / 128);
            ElementWise.Scale(x, 1f / 128);
            Assert.Equal(expected, x);
        }
    }

    [Fact]
    public void Add_should_match_reference_for_all_tail_lengths()
    {
        var random = new Random(6);
        foreach (var length in Enumerable.Range(0, 3 * 16 + 2).Append(235_146))
        {
            var x = Enumerable.Range(0, length).Select(_ => random.NextSingle() - 0.5f).ToArray();
            var y = Enumerable.Range(0, length).Select(_ => random.NextSingle() - 0.5f).ToArray();
            var expected = (float[])y.Clone();
            ElementWise.AddReference(x, expected);
            ElementWise.Add(x, y);
            Assert.Equal(expected, y);
        }
    }

    [Fact]
    public void Add_should_refuse_different_lengths() =>
        Assert.Throws<ArgumentException>(() => ElementWise.Add(new float[3], new float[4]));
}
