using System.Numerics;
using System.Numerics.Tensors;

namespace DistTrainer.Numerics.Models;

/// <summary>Hidden-layer non-linearities, applied in place, and their derivatives expressed through the activation's output.</summary>
public static class ActivationFunctions
{
    public static void Apply(Activation activation, Span<float> values)
    {
        switch (activation)
        {
            case Activation.Relu:
                TensorPrimitives.Max(values, 0f, values);
                break;
            case Activation.Tanh:
                TensorPrimitives.Tanh(values, values);
                break;
            case Activation.Sigmoid:
                TensorPrimitives.Sigmoid(values, values);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    /// <summary>gradient[i] *= f'(x_i), where <paramref name="output"/> holds a = f(x): ReLU 1[a&gt;0], tanh 1−a², sigmoid a(1−a).</summary>
    public static void MultiplyByDerivative(Activation activation, ReadOnlySpan<float> output, Span<float> gradient)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var one = Vector<float>.One;
            for (; i <= gradient.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var a = new Vector<float>(output[i..]);
                var g = new Vector<float>(gradient[i..]);
                var d = activation switch
                {
                    Activation.Relu => Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<float>.Zero), g, Vector<float>.Zero),
                    Activation.Tanh => g * (one - a * a),
                    _ => g * a * (one - a),
                };
                d.CopyTo(gradient[i..]);
            }
        }
        for (; i < gradient.Length; i++)
        {
            var a = output[i];
            gradient[i] *= activation switch
            {
                Activation.Relu => a > 0f ? 1f : 0f,
                Activation.Tanh => 1f - a * a,
                _ => a * (1f - a),
            };
        }
    }

    public static Activation Parse(string name) => name.ToLowerInvariant() switch
    {
        "relu" => Activation.Relu,
        "tanh" => Activation.Tanh,
        "sigmoid" => Activation.Sigmoid,
        _ => throw new ArgumentException($"unknown activation \"{name}\"; expected relu, tanh or sigmoid"),
    };
}
