using System.Runtime.InteropServices;
using System.Security.Cryptography;
using DistTrainer.Numerics.Data;

namespace DistTrainer.Actors.Cluster;

/// <summary>Describes a training split by shape and a SHA-256 over its features and targets (first 16 hex digits).</summary>
public static class DataFingerprint
{
    public static DataDescription Describe(Dataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(MemoryMarshal.AsBytes(train.Features.AsSpan()));
        sha.AppendData(MemoryMarshal.AsBytes(train.Targets.AsSpan()));
        var hash = Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
        return new DataDescription(train.Name, train.Count, train.FeatureCount, train.ClassCount, train.Task, hash);
    }
}
