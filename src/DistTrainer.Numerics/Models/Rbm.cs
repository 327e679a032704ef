using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using DistTrainer.Numerics.Data;
using DistTrainer.Numerics.Kernels;

namespace DistTrainer.Numerics.Models;

/// <summary>
/// How an <see cref="Rbm"/> estimates its gradient.
/// <para><see cref="CdSteps"/>: Gibbs steps k of CD-k (default 1).</para>
/// <para><see cref="PersistentChains"/>: 0 for plain CD (the default, and the only mode that is stateless across calls);
/// &gt; 0 for persistent CD with that many fantasy chains, keyed by <c>sampleId % PersistentChains</c> and held in the
/// workspace (see <see cref="Rbm"/> for what that means when a batch is split across workers).</para>
/// <para><see cref="SampleVisible"/>: draw binary visible states in the negative phase (scikit-learn's choice) rather
/// than using their probabilities.</para>
/// <para><see cref="Seed"/>: seeds the Bernoulli draws; every worker of a job must use the same value.</para>
/// </summary>
public sealed record RbmOptions(int CdSteps = 1, int PersistentChains = 0, bool SampleVisible = true, int Seed = 0)
{
    public bool Persistent => PersistentChains > 0;

    public void Validate()
    {
        if (CdSteps < 1)
        {
            throw new ArgumentException($"CD needs at least one Gibbs step, got {CdSteps}");
        }
        if (PersistentChains < 0)
        {
            throw new ArgumentException($"the number of persistent chains must be zero (plain CD) or positive, got {PersistentChains}");
        }
    }
}

/// <summary>
/// A Bernoulli–Bernoulli restricted Boltzmann machine trained by contrastive divergence.
/// Energy E(v,h) = −aᵀv − bᵀh − vᵀWh; P(h_j=1|v) = σ(b_j + Σ_i v_i W_ij); P(v_i=1|h) = σ(a_i + Σ_j W_ij h_j);
/// free energy F(v) = −aᵀv − Σ_j softplus(b_j + (vᵀW)_j).
/// <para>Flat layout (V visible, H hidden): W (V × H, row-major) at 0, then the visible bias a (V) at V·H, then the
/// hidden bias b (H) at V·H + V. W and b sit exactly where an MLP keeps its first layer (inputs × hidden0, then bias),
/// so pretraining copies them over unchanged.</para>
/// <para>The "gradient" is the CD estimate −(⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model) summed over the batch (the same for a and b), so
/// an optimizer that descends (w ← w − η·g) ascends the log-likelihood. The positive phase uses the data and
/// P(h|v); the negative phase runs k Gibbs steps and uses the last visible state and its hidden probabilities.</para>
/// <para>Randomness: sample <c>id</c> of global step <c>s</c> draws from its own stream
/// <see cref="SamplingRandom"/>(seed, s, id), in a fixed order (hidden units, then visible units, per Gibbs step), so a
/// batch split across workers draws exactly the numbers it draws in one process, and the gradient of a batch equals
/// the sum of the gradients of its parts.</para>
/// <para>Persistent CD: each chain slot (<c>sampleId % PersistentChains</c>) holds the last hidden sample of its chain in
/// the workspace; a slot seen for the first time starts from the data, as in CD. Split batches match one process only
/// if every slot is always served by the same workspace: use PersistentChains ≥ the training-set size and keep each
/// sample on the same worker (fixed shards). When shards move between workers, or two rows of one batch share a slot
/// (the later row's chain wins), results depend on the split. Plain CD has no such limitation.</para>
/// <para>Loss returned by <see cref="AccumulateGradient"/>: Σ over samples of the mean over visible units of
/// (v − P(v|h⁰))², with h⁰ the sampled hidden state of the positive phase (Hinton's reconstruction error, a by-product
/// of CD). <see cref="ReconstructionError"/> is the deterministic mean-field version for metrics.</para>
/// <para>The step's methods are AggressiveOptimization and its element-wise passes are <see cref="RbmKernels"/>, not
/// TensorPrimitives: at batch 10 a whole fit is a few thousand tiny steps, and running them as unoptimized tier-0 code
/// first cost about as much as the rest of the fit.</para>
/// </summary>
public sealed class Rbm : IModel
{
    private readonly int _visible;
    private readonly int _hidden;

    public Rbm(ModelSpec spec, RbmOptions? options = null)
    {
        if (spec.Kind != ModelKind.Rbm)
        {
            throw new ArgumentException($"expected an RBM spec, got {spec.Kind}", nameof(spec));
        }
        if (spec.Inputs <= 0 || spec.Hidden.Length != 1 || spec.Hidden[0] <= 0)
        {
            throw new ArgumentException($"an RBM needs visible units and exactly one hidden layer: {spec}", nameof(spec));
        }
        Options = options ?? new RbmOptions();
        Options.Validate();
        Spec = spec;
        _visible = spec.Inputs;
        _hidden = spec.Hidden[0];
        ParameterCount = _visible * _hidden + _visible + _hidden;
    }

    public ModelSpec Spec { get; }

    public RbmOptions Options { get; }

    public int Visible => _visible;

    public int Hidden => _hidden;

    public int ParameterCount { get; }

    /// <summary>An RBM spec: <paramref name="visible"/> inputs, one hidden layer, no outputs.</summary>
    public static ModelSpec CreateSpec(int visible, int hidden) =>
        new(ModelKind.Rbm, visible, [hidden], 0, Activation.Sigmoid, TaskKind.Classification);

    /// <summary>The random stream of one sample at one step: <c>SeededRandom.For(seed, ~step, sampleId)</c>.</summary>
    /// <remarks>~step is negative, so these streams never meet the initialisation (1, ·) or epoch-order (2, ·) streams.</remarks>
    public static SeededRandom SamplingRandom(int seed, long step, int sampleId) => SeededRandom.For(seed, ~step, sampleId);

    public Span<float> Weights(Span<float> buffer) => buffer[..(_visible * _hidden)];

    public ReadOnlySpan<float> Weights(ReadOnlySpan<float> buffer) => buffer[..(_visible * _hidden)];

    public Span<float> VisibleBias(Span<float> buffer) => buffer.Slice(_visible * _hidden, _visible);

    public ReadOnlySpan<float> VisibleBias(ReadOnlySpan<float> buffer) => buffer.Slice(_visible * _hidden, _visible);

    public Span<float> HiddenBias(Span<float> buffer) => buffer.Slice(_visible * _hidden + _visible, _hidden);

    public ReadOnlySpan<float> HiddenBias(ReadOnlySpan<float> buffer) => buffer.Slice(_visible * _hidden + _visible, _hidden);

    /// <summary>W ~ N(0, 0.01²) as scikit-learn and Hinton's guide use; both biases start at zero.</summary>
    public void Initialize(Span<float> weights, int seed)
    {
        CheckWeights(weights);
        weights.Clear();
        var rng = SeededRandom.For(seed, 1, 0);
        var w = Weights(weights);
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = 0.01f * rng.NextGaussian();
        }
    }

    public ModelWorkspace CreateWorkspace(int maxBatch, int threads = 1) => new RbmWorkspace(this, maxBatch, threads);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double AccumulateGradient(ReadOnlySpan<float> weights, in Batch batch, Span<float> gradientSum, ModelWorkspace workspace)
    {
        var n = batch.Count;
        var ws = CheckWorkspace(workspace, n);
        CheckWeights(weights);
        if (gradientSum.Length != ParameterCount)
        {
            throw new ArgumentException($"gradient holds {gradientSum.Length} values, the model has {ParameterCount}.", nameof(gradientSum));
        }
        if (batch.Features.Length < n * _visible || batch.SampleIds.Length < n)
        {
            throw new ArgumentException($"the batch needs {n} rows × {_visible} features and {n} sample ids.", nameof(batch));
        }
        if (n == 0)
        {
            return 0;
        }
        int v = _visible, h = _hidden, threads = ws.Threads;
        var v0 = batch.Features[..(n * v)];
        var ids = batch.SampleIds[..n];
        var stackV = ws.StackV.AsSpan(0, 2 * n * v);     // (2n × V): data rows, then the last negative visible rows
        var stackH = ws.StackH.AsSpan(0, 2 * n * h);     // (2n × H): −P(h|data), then P(h|negative visible)
        var hp0 = stackH[..(n * h)];
        var vNeg = stackV[(n * v)..];
        var hpNeg = stackH[(n * h)..];
        var hs = ws.HiddenSample.AsSpan(0, n * h);       // (n × H) sampled hidden states
        var vp = ws.VisibleProbability.AsSpan(0, n * v); // (n × V)

        for (var r = 0; r < n; r++)
        {
            ws.Random[r] = SamplingRandom(Options.Seed, batch.Step, ids[r]);
        }

        // Positive phase: P(h|v⁰), and a sample h⁰ of it.
        HiddenProbabilities(weights, v0, n, hp0, threads);
        SampleRows(ws, hp0, hs, n, h);

        // Reconstruction error from h⁰ (in plain CD this is also the first negative visible step).
        VisibleProbabilities(weights, hs, n, vp, threads);
        var loss = (double)RbmKernels.SquaredDistance(v0, vp) / v;

        if (Options.Persistent)
        {
            // Continue each row's chain from its stored hidden sample; a fresh slot starts from h⁰ (plain CD).
            var chains = ws.Chains!;
            for (var r = 0; r < n; r++)
            {
                var slot = (int)((uint)ids[r] % (uint)Options.PersistentChains);
                if (ws.ChainReady![slot])
                {
                    chains.AsSpan(slot * h, h).CopyTo(hs.Slice(r * h, h));
                }
            }
        }

        for (var t = 1; t <= Options.CdSteps; t++)
        {
            if (t > 1 || Options.Persistent)
            {
                VisibleProbabilities(weights, hs, n, vp, threads);
            }
            if (Options.SampleVisible)
            {
                SampleRows(ws, vp, vNeg, n, v);
            }
            else
            {
                vp.CopyTo(vNeg);
            }
            HiddenProbabilities(weights, vNeg, n, hpNeg, threads);
            if (t < Options.CdSteps || Options.Persistent)
            {
                SampleRows(ws, hpNeg, hs, n, h);
            }
        }

        if (Options.Persistent)
        {
            var chains = ws.Chains!;
            for (var r = 0; r < n; r++)
            {
                var slot = (int)((uint)ids[r] % (uint)Options.PersistentChains);
                hs.Slice(r * h, h).CopyTo(chains.AsSpan(slot * h, h));
                ws.ChainReady![slot] = true;
            }
        }

        // Bias gradients: −(data − model) = model − data, summed over rows.
        RbmKernels.AccumulateRowDifferences(vNeg, v0, VisibleBias(gradientSum));
        RbmKernels.AccumulateRowDifferences(hpNeg, hp0, HiddenBias(gradientSum));

        // Weight gradient in one product over the stacked phases: [v⁰; vᵏ]ᵀ·[−P(h|v⁰); P(h|vᵏ)] = −(v⁰ᵀh⁰ − vᵏᵀhᵏ).
        ElementWise.Scale(hp0, -1f);
        v0.CopyTo(stackV[..(n * v)]);
        Gemm.MultiplyTN(v, h, 2 * n, stackV, stackH, Weights(gradientSum), accumulate: true, threads);
        return loss;
    }

    /// <summary>dest (count × H) = σ(visible·W + b), the features an RBM extracts. Allocates nothing.</summary>
    public void HiddenProbabilities(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int count, Span<float> dest, int threads = 1)
    {
        var output = dest[..(count * _hidden)];
        Gemm.MultiplyNN(count, _hidden, _visible, visible[..(count * _visible)], Weights(weights), output, accumulate: false, threads);
        RbmKernels.AddBiasSigmoid(output, HiddenBias(weights));
    }

    /// <summary>dest (count × V) = σ(hidden·Wᵀ + a). Allocates nothing.</summary>
    public void VisibleProbabilities(ReadOnlySpan<float> weights, ReadOnlySpan<float> hidden, int count, Span<float> dest, int threads = 1)
    {
        var output = dest[..(count * _visible)];
        Gemm.MultiplyNT(count, _visible, _hidden, hidden[..(count * _hidden)], Weights(weights), output, accumulate: false, threads);
        RbmKernels.AddBiasSigmoid(output, VisibleBias(weights));
    }

    /// <summary>F(v) of one visible vector, in double precision with a stable softplus (a plain loop, for tests and tools).</summary>
    public double FreeEnergy(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible)
    {
        CheckWeights(weights);
        var w = Weights(weights);
        var a = VisibleBias(weights);
        var b = HiddenBias(weights);
        double energy = 0;
        for (var i = 0; i < _visible; i++)
        {
            energy -= (double)a[i] * visible[i];
        }
        for (var j = 0; j < _hidden; j++)
        {
            double x = b[j];
            for (var i = 0; i < _visible; i++)
            {
                x += (double)visible[i] * w[i * _hidden + j];
            }
            energy -= RbmKernels.Softplus(x);
        }
        return energy;
    }

    /// <summary>dest[r] = F(row r) for <paramref name="count"/> rows (count × V), through the GEMM kernel in workspace-sized chunks.</summary>
    public void FreeEnergies(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int count, Span<double> dest, ModelWorkspace workspace)
    {
        var ws = CheckWorkspace(workspace, 0);
        CheckWeights(weights);
        for (var start = 0; start < count; start += ws.MaxBatch)
        {
            var rows = Math.Min(ws.MaxBatch, count - start);
            var chunk = visible.Slice(start * _visible, rows * _visible);
            var pre = PreActivations(weights, chunk, rows, ws);
            for (var r = 0; r < rows; r++)
            {
                dest[start + r] = FreeEnergyFromPreActivation(weights, chunk.Slice(r * _visible, _visible), pre.Slice(r * _hidden, _hidden), -1, 0);
            }
        }
    }

    /// <summary>
    /// Mean over rows of the mean over visible units of (v − v̂)², with the deterministic mean-field reconstruction
    /// v̂ = P(v | h = P(h|v)).
    /// </summary>
    public double ReconstructionError(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int count, ModelWorkspace workspace)
    {
        var ws = CheckWorkspace(workspace, 0);
        CheckWeights(weights);
        double sum = 0;
        for (var start = 0; start < count; start += ws.MaxBatch)
        {
            var rows = Math.Min(ws.MaxBatch, count - start);
            var chunk = visible.Slice(start * _visible, rows * _visible);
            var hp = ws.HiddenSample.AsSpan(0, rows * _hidden);
            var vp = ws.VisibleProbability.AsSpan(0, rows * _visible);
            HiddenProbabilities(weights, chunk, rows, hp, ws.Threads);
            VisibleProbabilities(weights, hp, rows, vp, ws.Threads);
            var distance = (double)TensorPrimitives.Distance(chunk, vp);
            sum += distance * distance;
        }
        return count == 0 ? 0 : sum / ((double)count * _visible);
    }

    /// <summary>
    /// Pseudo-log-likelihood per row, as scikit-learn's <c>BernoulliRBM.score_samples</c> defines it: flip one randomly
    /// chosen visible unit j of row r (v'_j = 1 − v_j; the data is not binarised) and return V·log σ(F(v') − F(v)).
    /// The unit is <c>SeededRandom.For(seed, 4, r).NextInt(V)</c>, so the result depends only on the seed and the row index.
    /// </summary>
    public void PseudoLogLikelihoods(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int count, int seed, Span<double> dest, ModelWorkspace workspace)
    {
        var ws = CheckWorkspace(workspace, 0);
        CheckWeights(weights);
        for (var start = 0; start < count; start += ws.MaxBatch)
        {
            var rows = Math.Min(ws.MaxBatch, count - start);
            var chunk = visible.Slice(start * _visible, rows * _visible);
            var pre = PreActivations(weights, chunk, rows, ws);
            for (var r = 0; r < rows; r++)
            {
                var row = chunk.Slice(r * _visible, _visible);
                var rowPre = pre.Slice(r * _hidden, _hidden);
                var flip = SeededRandom.For(seed, 4, start + r).NextInt(_visible);
                var energy = FreeEnergyFromPreActivation(weights, row, rowPre, -1, 0);
                var flipped = FreeEnergyFromPreActivation(weights, row, rowPre, flip, 1f - row[flip]);
                dest[start + r] = _visible * RbmKernels.LogSigmoid(flipped - energy);
            }
        }
    }

    /// <summary>Mean of <see cref="PseudoLogLikelihoods"/> over the rows.</summary>
    public double PseudoLogLikelihood(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int count, int seed, ModelWorkspace workspace)
    {
        var values = new double[count];
        PseudoLogLikelihoods(weights, visible, count, seed, values, workspace);
        return count == 0 ? 0 : values.Average();
    }

    /// <summary>(rows × H) = visible·W + b into the workspace.</summary>
    private Span<float> PreActivations(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, int rows, RbmWorkspace ws)
    {
        var pre = ws.HiddenSample.AsSpan(0, rows * _hidden);
        Gemm.MultiplyNN(rows, _hidden, _visible, visible, Weights(weights), pre, accumulate: false, ws.Threads);
        var b = HiddenBias(weights);
        for (var r = 0; r < rows; r++)
        {
            var row = pre.Slice(r * _hidden, _hidden);
            TensorPrimitives.Add(row, b, row);
        }
        return pre;
    }

    /// <summary>
    /// F(v) from x = vW + b. With <paramref name="flip"/> ≥ 0 it is F of v with unit <paramref name="flip"/> set to
    /// <paramref name="flippedValue"/>: x moves by (new − old)·W[flip, :], so no second product is needed.
    /// </summary>
    private double FreeEnergyFromPreActivation(ReadOnlySpan<float> weights, ReadOnlySpan<float> visible, ReadOnlySpan<float> pre, int flip, float flippedValue)
    {
        var a = VisibleBias(weights);
        double energy = -(double)TensorPrimitives.Dot(a, visible);
        if (flip < 0)
        {
            for (var j = 0; j < _hidden; j++)
            {
                energy -= RbmKernels.Softplus(pre[j]);
            }
            return energy;
        }
        var delta = (double)flippedValue - visible[flip];
        energy -= a[flip] * delta;
        var wRow = Weights(weights).Slice(flip * _hidden, _hidden);
        for (var j = 0; j < _hidden; j++)
        {
            energy -= RbmKernels.Softplus(pre[j] + delta * wRow[j]);
        }
        return energy;
    }

    /// <summary>Bernoulli samples of (n × width) probabilities, each row drawing from its own sample's stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SampleRows(RbmWorkspace ws, ReadOnlySpan<float> probabilities, Span<float> dest, int n, int width)
    {
        var uniforms = ws.Uniforms.AsSpan(0, width);
        for (var r = 0; r < n; r++)
        {
            RbmKernels.FillUniform(ref ws.Random[r], uniforms);
            RbmKernels.SampleBernoulli(probabilities.Slice(r * width, width), uniforms, dest.Slice(r * width, width));
        }
    }

    private void CheckWeights(ReadOnlySpan<float> weights)
    {
        if (weights.Length != ParameterCount)
        {
            throw new ArgumentException($"weights hold {weights.Length} values, the model has {ParameterCount}.", nameof(weights));
        }
    }

    /// <summary>
    /// Persistent CD: a copy of the workspace's fantasy chains (the last hidden sample of each slot, PersistentChains × H)
    /// and which slots have started, so a checkpoint can carry them and a resumed run continue them exactly.
    /// </summary>
    public (float[] Chains, bool[] Started) ExportChains(ModelWorkspace workspace)
    {
        var ws = CheckWorkspace(workspace, 0);
        return ws.Chains is null ? ([], []) : ([.. ws.Chains], [.. ws.ChainReady!]);
    }

    /// <summary>Restores chains taken by <see cref="ExportChains"/> from a model with the same hidden units and chain count.</summary>
    public void ImportChains(ModelWorkspace workspace, float[] chains, bool[] started)
    {
        var ws = CheckWorkspace(workspace, 0);
        if (ws.Chains is null || chains.Length != ws.Chains.Length || started.Length != ws.ChainReady!.Length)
        {
            throw new ArgumentException(
                $"{started.Length} chains of {chains.Length} values do not fit {Options.PersistentChains} persistent chains of {_hidden} hidden units");
        }
        chains.CopyTo(ws.Chains, 0);
        started.CopyTo(ws.ChainReady, 0);
    }

    private RbmWorkspace CheckWorkspace(ModelWorkspace workspace, int count)
    {
        if (workspace is not RbmWorkspace ws || ws.Owner != this)
        {
            throw new ArgumentException("the workspace was not created by this model", nameof(workspace));
        }
        if (count > ws.MaxBatch)
        {
            throw new ArgumentException($"batch of {count} rows exceeds the workspace's {ws.MaxBatch}.", nameof(workspace));
        }
        return ws;
    }

    private sealed class RbmWorkspace : ModelWorkspace
    {
        public RbmWorkspace(Rbm owner, int maxBatch, int threads) : base(maxBatch, threads)
        {
            if (maxBatch < 1)
            {
                throw new ArgumentException($"a workspace needs room for at least one row, got {maxBatch}", nameof(maxBatch));
            }
            Owner = owner;
            StackV = new float[2 * maxBatch * owner._visible];
            StackH = new float[2 * maxBatch * owner._hidden];
            HiddenSample = new float[maxBatch * owner._hidden];
            VisibleProbability = new float[maxBatch * owner._visible];
            Uniforms = new float[Math.Max(owner._visible, owner._hidden)];
            Random = new SeededRandom[maxBatch];
            if (owner.Options.Persistent)
            {
                Chains = new float[(long)owner.Options.PersistentChains * owner._hidden];
                ChainReady = new bool[owner.Options.PersistentChains];
            }
        }

        public Rbm Owner { get; }
        public float[] StackV { get; }
        public float[] StackH { get; }
        public float[] HiddenSample { get; }
        public float[] VisibleProbability { get; }
        public float[] Uniforms { get; }
        public SeededRandom[] Random { get; }
        /// <summary>Persistent CD only: the last hidden sample of each chain slot (PersistentChains × H).</summary>
        public float[]? Chains { get; }
        public bool[]? ChainReady { get; }
    }
}
