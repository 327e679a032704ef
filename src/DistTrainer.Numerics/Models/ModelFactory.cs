namespace DistTrainer.Numerics.Models;

/// <summary>Builds the model a spec describes, so code that receives only a spec (workers, the CLI) needs no switch of its own.</summary>
public static class ModelFactory
{
    /// <summary>
    /// The model of <paramref name="spec"/>. <paramref name="rbm"/> sets how an RBM estimates its gradient (CD steps,
    /// persistent chains, sampling seed); every worker of a job must be given the same value. MLPs ignore it.
    /// </summary>
    public static IModel Create(ModelSpec spec, RbmOptions? rbm = null) => spec.Kind switch
    {
        ModelKind.Mlp => new Mlp(spec),
        ModelKind.Rbm => new Rbm(spec, rbm),
        _ => throw new NotSupportedException($"no model implementation for {spec.Kind}"),
    };
}
