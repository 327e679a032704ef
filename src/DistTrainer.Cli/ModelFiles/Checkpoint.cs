using System.Runtime.InteropServices;
using System.Security.Cryptography;
using DistTrainer.Numerics.Data;
using MessagePack;

namespace DistTrainer.Cli.ModelFiles;

/// <summary>One finished epoch as the run summary needs it after a resume.</summary>
[MessagePackObject]
public sealed class EpochRecord
{
    [Key(0)] public double TrainLoss { get; set; }
    [Key(1)] public int Samples { get; set; }
    [Key(2)] public double Seconds { get; set; }
}

/// <summary>
/// Where a run stands, in the same container as model files: the model (with weights), the optimizer state, the
/// position in the data (epoch, samples consumed in it, global step) and the options that must match on resume.
/// The epoch order is a pure function of (seed, epoch), so the cursor is all a resume needs to replay the data.
/// </summary>
[MessagePackObject]
public sealed class Checkpoint
{
    public const string FileName = "checkpoint.dtc";

    [Key(0)] public ModelContent Model { get; set; } = new();
    [Key(1)] public string Optimizer { get; set; } = "";
    [Key(2)] public float[] OptimizerState { get; set; } = [];
    /// <summary>The 0-based epoch in progress; equals the finished epochs when <see cref="Cursor"/> is 0.</summary>
    [Key(3)] public int Epoch { get; set; }
    /// <summary>Samples of <see cref="Epoch"/>'s order already trained on.</summary>
    [Key(4)] public int Cursor { get; set; }
    [Key(5)] public long Step { get; set; }
    /// <summary>Summed loss of the epoch so far, so a resumed epoch reports the same mean loss.</summary>
    [Key(6)] public double EpochLossSum { get; set; }
    [Key(7)] public int Epochs { get; set; }
    /// <summary>The model and data options of the run as name → canonical text.</summary>
    [Key(8)] public Dictionary<string, string> Options { get; set; } = [];
    /// <summary>SHA-256 of the training and test data as trained on.</summary>
    [Key(9)] public byte[] DataHash { get; set; } = [];
    [Key(10)] public double TrainSeconds { get; set; }
    [Key(11)] public double WallSeconds { get; set; }
    [Key(12)] public EpochRecord[] History { get; set; } = [];
    /// <summary>Training time spent in <see cref="Epoch"/> so far, so a resumed epoch reports honest samples/s.</summary>
    [Key(13)] public double EpochSeconds { get; set; }
    /// <summary>Persistent CD (single process): the RBM's fantasy chains, one hidden sample per slot; empty otherwise.</summary>
    [Key(14)] public float[] PersistentChains { get; set; } = [];
    /// <summary>Which slots of <see cref="PersistentChains"/> have started (a fresh slot starts from the data).</summary>
    [Key(15)] public bool[] ChainStarted { get; set; } = [];

    public byte[] ToBytes() => DtmContainer.Encode(DtmContentKind.Checkpoint, this);

    public static Checkpoint FromBytes(ReadOnlySpan<byte> bytes, string source) => Check(DtmContainer.Decode<Checkpoint>(bytes, DtmContentKind.Checkpoint, source), source);

    public static Checkpoint Load(string path) => Check(DtmContainer.Read<Checkpoint>(path, DtmContentKind.Checkpoint), path);

    /// <summary>Written atomically: a crash while saving leaves the previous checkpoint in place.</summary>
    public void Save(string path) => Run.AtomicFile.Write(path, ToBytes());

    public static byte[] HashData(Dataset train, Dataset test)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var d in new[] { train, test })
        {
            sha.AppendData(MemoryMarshal.AsBytes(d.Features.AsSpan()));
            sha.AppendData(MemoryMarshal.AsBytes(d.Targets.AsSpan()));
        }
        return sha.GetHashAndReset();
    }

    private static Checkpoint Check(Checkpoint c, string source)
    {
        if (c.Model is null || c.OptimizerState is null || c.Options is null || c.DataHash is null || c.History is null || c.Optimizer is null || c.PersistentChains is null || c.ChainStarted is null)
        {
            throw new ModelFileException($"{source}: corrupt checkpoint: a required field is missing");
        }
        if (c.Epoch < 0 || c.Cursor < 0 || c.Step < 0 || c.Epochs < 1 || c.History.Length != c.Epoch)
        {
            throw new ModelFileException($"{source}: corrupt checkpoint: inconsistent position (epoch {c.Epoch}, cursor {c.Cursor}, step {c.Step})");
        }
        TrainedModel.FromContent(c.Model, source);
        return c;
    }
}
