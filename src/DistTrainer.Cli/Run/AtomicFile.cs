namespace DistTrainer.Cli.Run;

/// <summary>
/// Replaces a file so that readers see either the old or the new content, never a mix: write a temp file in the
/// same folder, flush it to disk, then rename it over the target. A crash before the rename leaves the old file.
/// </summary>
public static class AtomicFile
{
    public static string TempPath(string path) => path + ".tmp";

    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = WriteTemp(path, bytes);
        Commit(temp, path);
    }

    /// <summary>First half of <see cref="Write"/>: the new content is durable on disk under the temp name.</summary>
    public static string WriteTemp(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = TempPath(path);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        return temp;
    }

    /// <summary>Second half of <see cref="Write"/>: the rename is atomic within one file system.</summary>
    public static void Commit(string temp, string path) => File.Move(temp, path, overwrite: true);
}
