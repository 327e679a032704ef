using DistTrainer.Numerics.Models;

namespace DistTrainer.Numerics.Tests.Models;

/// <summary>
/// Activations and their derivatives against double precision, for lengths that exercise both the vector loop and the
/// scalar tail. The derivative is checked against central differences of the double activation (h = 1e-5, error below
/// 1e-9); the 1e-5 tolerance covers float32 rounding of the activation output it is computed from.
/// </summary>
public class ActivationFunctionTests
{
    private const double Step = 1e-5;

    public static TheoryData<Activation, int> Cases()
    {
        var cases = new TheoryData<Activation, int>();
        foreach (var activation in new[] { Activation.Relu, Activation.Tanh, Activation.Sigmoid })
        {
            foreach (var length in new[] { 1, 7, 17, 33, 257 })
            {
                cases.Add(activation, length);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Activation_and_its_derivative_should_match_double_precision_and_finite_differences(Activation activation, int length)
    {
        var rng = SeededRandom.For(length, (int)activation);
        // Inputs in [-4, 4], kept at least 1e-3 away from the ReLU kink.
        var x = Enumerable.Range(0, length).Select(_ =>
        {
            var v = 8 * rng.NextFloat() - 4;
            return MathF.Abs(v) < 1e-3f ? 0.5f : v;
        }).ToArray();
        var upstream = Enumerable.Range(0, length).Select(_ => 2 * rng.NextFloat() - 1).ToArray();

        var a = (float[])x.Clone();
        ActivationFunctions.Apply(activation, a);
        var gradient = (float[])upstream.Clone();
        ActivationFunctions.MultiplyByDerivative(activation, a, gradient);

        for (var i = 0; i < length; i++)
        {
            Assert.Equal(F(activation, x[i]), a[i], 1e-6);
            var fd = (F(activation, x[i] + Step) - F(activation, x[i] - Step)) / (2 * Step);
            Assert.Equal(upstream[i] * fd, gradient[i], 1e-5);
        }
    }

    [Theory]
    [InlineData("relu", Activation.Relu)]
    [InlineData("TANH", Activation.Tanh)]
    [InlineData("Sigmoid", Activation.Sigmoid)]
    public void Activation_names_should_parse_ignoring_case(string name, Activation expected) =>
        Assert.Equal(expected, ActivationFunctions.Parse(name));

    [Fact]
    public void Unknown_activation_name_should_be_rejected_with_the_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => ActivationFunctions.Parse("gelu"));
        Assert.Contains("relu, tanh or sigmoid", e.Message, StringComparison.Ordinal);
    }

    private static double F(Activation activation, double x) => activation switch
    {
        Activation.Relu => Math.Max(x, 0),
        Activation.Tanh => Math.Tanh(x),
        _ => 1 / (1 + Math.Exp(-x)),
    };
}
