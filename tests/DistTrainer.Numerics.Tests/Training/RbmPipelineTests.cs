using System.Globalization;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Training;
using Xunit.Abstractions;

namespace DistTrainer.Numerics.Tests.Training;

public class RbmPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void Rbm_features_with_softmax_should_reach_93_percent_on_digits_and_improve_test_pseudo_log_likelihood()
    {
        var (train, test) = TestData.DigitsUnitScaled;
        var options = new RbmPipelineOptions { Seed = 1 };

        var initial = new Rbm(Rbm.CreateSpec(train.FeatureCount, options.Hidden));
        var initialWeights = new float[initial.ParameterCount];
        initial.Initialize(initialWeights, options.Seed);
        var before = RbmPipeline.Measure(initial, initialWeights, train, test, options.Seed, initial.CreateWorkspace(256));

        var result = RbmPipeline.Run(train, test, options, m => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {m.Epoch}: loss {m.TrainLoss:F4} recon {m.TrainReconstructionError:F4}/{m.TestReconstructionError:F4} pll {m.TrainPseudoLogLikelihood:F2}/{m.TestPseudoLogLikelihood:F2} fit {m.FitSeconds:F3}s")));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"initial test pll {before.TestPseudoLogLikelihood:F2}; test accuracy {result.TestAccuracy:F4}, train accuracy {result.Classifier!.TrainAccuracy:F4}, fit {result.Rbm.FitSeconds:F3}s"));

        Assert.True(result.TestAccuracy >= 0.93, $"test accuracy {result.TestAccuracy}");
        var epochs = result.Rbm.Epochs;
        Assert.True(epochs[^1].TestPseudoLogLikelihood > before.TestPseudoLogLikelihood + 5);
        Assert.True(epochs[^1].TestPseudoLogLikelihood > epochs[0].TestPseudoLogLikelihood);
        Assert.True(epochs[^1].TestReconstructionError < epochs[0].TestReconstructionError);
    }

    [Fact]
    public void Rbm_pipeline_should_reject_features_outside_the_unit_interval()
    {
        var data = new Dataset("bad", ["x", "y"], "label", TaskKind.Classification, 2, [0f, 2f, 1f, 0f], [0f, 1f]);
        Assert.Throws<ArgumentException>(() => RbmPipeline.TrainRbm(data, null, new RbmPipelineOptions { Hidden = 2, Epochs = 1 }));
    }

    [Theory]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Tanh)]
    public void Pretrain_should_make_the_first_mlp_layer_compute_the_rbm_features_through_the_input_scaling(Activation activation)
    {
        var (train, _) = TestData.DigitsUnitScaled;
        var subset = train.Select(Enumerable.Range(0, 200).ToArray());
        var inputs = subset.FeatureCount;
        // The MLP sees x = (v − offset) / scale, i.e. v = x·scale + offset.
        var scale = Enumerable.Range(0, inputs).Select(i => 0.5f + i % 3).ToArray();
        var offset = Enumerable.Range(0, inputs).Select(i => 0.1f * (i % 4)).ToArray();
        var mlpInputs = new float[subset.Features.Length];
        for (var i = 0; i < mlpInputs.Length; i++)
        {
            mlpInputs[i] = (subset.Features[i] - offset[i % inputs]) / scale[i % inputs];
        }

        var mlp = new Mlp(Mlp.CreateSpec(inputs, [16, 8], 10, activation, TaskKind.Classification));
        var mlpWeights = new float[mlp.ParameterCount];
        mlp.Initialize(mlpWeights, 1);
        var secondLayerBefore = mlp.Layers[1].Weights((ReadOnlySpan<float>)mlpWeights).ToArray();
        var rbm = RbmPipeline.Pretrain(mlp, mlpWeights, subset, new RbmPipelineOptions { Epochs = 2, Seed = 4 }, scale, offset);

        var expected = new float[subset.Count * 16];
        rbm.Model.HiddenProbabilities(rbm.Weights, subset.Features, subset.Count, expected);
        var layer = mlp.Layers[0];
        var actual = new float[subset.Count * 16];
        GemmReference.MultiplyNN(subset.Count, 16, inputs, mlpInputs, layer.Weights((ReadOnlySpan<float>)mlpWeights), actual, false);
        var bias = layer.Bias((ReadOnlySpan<float>)mlpWeights);
        for (var i = 0; i < actual.Length; i++)
        {
            var z = actual[i] + bias[i % 16];
            var feature = activation == Activation.Tanh ? (MathF.Tanh(z) + 1f) / 2f : 1f / (1f + MathF.Exp(-z));
            Assert.Equal(expected[i], feature, 1e-4f);
        }
        Assert.Equal(secondLayerBefore, mlp.Layers[1].Weights((ReadOnlySpan<float>)mlpWeights).ToArray());
    }
}
