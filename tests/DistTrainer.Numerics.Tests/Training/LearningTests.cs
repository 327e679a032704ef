using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Models;
using DistTrainer.Numerics.Optimizers;
using DistTrainer.Numerics.Training;

namespace DistTrainer.Numerics.Tests.Training;

/// <summary>
/// End-to-end learning on the shared real datasets with the defaults of `disttrainer train` (seed 42): one hidden layer
/// of 64 ReLU units, Adam with η = 0.001 and weight decay 0.01, batch 32, and the "auto" epoch count
/// clamp(⌈2000 / steps per epoch⌉, 10, 200). The thresholds are the project's acceptance bars on the fixed split.
/// </summary>
public class LearningTests
{
    private const int Seed = 42;
    private const int Batch = 32;
    private const int AutoSteps = 2000;

    [Theory]
    [InlineData("digits", 0.97)]
    [InlineData("breast_cancer", 0.95)]
    [InlineData("wine", 0.95)]
    public void Default_training_should_reach_the_test_accuracy_bar(string dataset, double minimumAccuracy)
    {
        var evaluation = TrainWithDefaults(dataset);
        Assert.True(evaluation.Accuracy >= minimumAccuracy, $"{dataset}: test accuracy {evaluation.Accuracy:F4} < {minimumAccuracy}");
    }

    [Fact]
    public void Default_training_should_reach_the_r_squared_bar_on_diabetes()
    {
        var evaluation = TrainWithDefaults("diabetes");
        Assert.True(evaluation.R2 >= 0.40, $"diabetes: test R² {evaluation.R2:F4} < 0.40");
    }

    private static Evaluation TrainWithDefaults(string dataset)
    {
        var loaded = DatasetCatalog.Load(dataset);
        var data = PreparedData.Standardize(loaded.Name, loaded.Train, loaded.Test);
        var model = new Mlp(Mlp.CreateSpec(data.Train.FeatureCount, [64], data.Outputs, Activation.Relu, data.Train.Task));
        var stepsPerEpoch = (data.Train.Count + Batch - 1) / Batch;
        var epochs = Math.Clamp((AutoSteps + stepsPerEpoch - 1) / stepsPerEpoch, 10, 200);
        var optimizer = new OptimizerOptions(OptimizerKind.Adam, LearningRate: 0.001f, WeightDecay: 0.01f);
        var trainer = new Trainer(model, data.Train, new TrainingOptions(epochs, Batch, optimizer, Seed));
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            trainer.TrainEpoch(epoch);
        }
        return Evaluator.Evaluate(model, trainer.Weights, data.Test, data.TargetScaling);
    }
}
