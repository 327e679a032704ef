namespace DistTrainer.Numerics.Models;

/// <summary>Builds the model a spec describes, so code that receives only a spec (workers, the CLI) needs no switch of its own.</summary>
public static class ModelFactory
{
    public static IModel Create(ModelSpec spec) => spec.Kind switch
    {
        ModelKind.Mlp => new Mlp(spec),
        _ => throw new NotSupportedException($"no model implementation for {spec.Kind} yet"),
    };
}
