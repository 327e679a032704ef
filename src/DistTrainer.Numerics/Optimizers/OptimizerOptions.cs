namespace DistTrainer.Numerics.Optimizers;

/// <summary>Which optimizer to run and its hyper-parameters. Weight decay is plain L2: g ← g + λw.</summary>
public sealed record OptimizerOptions(
    OptimizerKind Kind = OptimizerKind.Adam,
    float LearningRate = 0.001f,
    float Momentum = 0.9f,
    float WeightDecay = 0f,
    float Beta1 = 0.9f,
    float Beta2 = 0.999f,
    float Epsilon = 1e-8f)
{
    /// <summary>The usual learning rate for each optimizer when the user gives none.</summary>
    public static float DefaultLearningRate(OptimizerKind kind) => kind switch
    {
        OptimizerKind.Adam => 0.001f,
        OptimizerKind.Sgd => 0.1f,
        _ => 0.01f,
    };

    public IOptimizer Create(int parameterCount) => Kind switch
    {
        OptimizerKind.Sgd => new Sgd(LearningRate, WeightDecay),
        OptimizerKind.Momentum => new MomentumSgd(LearningRate, Momentum, WeightDecay, nesterov: false, parameterCount),
        OptimizerKind.Nesterov => new MomentumSgd(LearningRate, Momentum, WeightDecay, nesterov: true, parameterCount),
        OptimizerKind.Adam => new Adam(LearningRate, Beta1, Beta2, Epsilon, WeightDecay, parameterCount),
        _ => throw new InvalidOperationException($"unknown optimizer {Kind}"),
    };

    public static OptimizerKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "sgd" => OptimizerKind.Sgd,
        "momentum" => OptimizerKind.Momentum,
        "nesterov" => OptimizerKind.Nesterov,
        "adam" => OptimizerKind.Adam,
        _ => throw new ArgumentException($"unknown optimizer \"{name}\"; expected sgd, momentum, nesterov or adam"),
    };
}

public enum OptimizerKind
{
    Sgd,
    Momentum,
    Nesterov,
    Adam,
}
