using System.Text;

namespace DistTrainer.Numerics.Data;

/// <summary>A train/test pair ready for training, and the name to show for it.</summary>
public sealed record LoadedData(Dataset Train, Dataset Test, string Name);

/// <summary>
/// Turns a user's dataset spec into a train/test pair: a shared dataset name, a path to a CSV file (fixed split) or
/// a path to an MNIST-format IDX folder (its canonical train and t10k files).
/// </summary>
public static class DatasetCatalog
{
    /// <summary>Environment variable naming the folder that holds the shared CSV files.</summary>
    public const string DataDirVariable = "DISTTRAINER_DATA_DIR";

    /// <summary>The embedded default dataset.</summary>
    public const string Default = "digits";

    private const string DigitsResource = "DistTrainer.Numerics.Data.digits.csv";

    /// <summary>Names accepted in place of a path; all but digits are read from the shared data folder.</summary>
    public static IReadOnlyList<string> KnownNames { get; } = ["digits", "iris", "wine", "breast_cancer", "diabetes"];

    public static LoadedData Load(string spec, string? labelColumn = null, TaskKind? task = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var known = KnownNames.FirstOrDefault(n => string.Equals(n, spec, StringComparison.OrdinalIgnoreCase));
        if (known == Default)
        {
            return FromCsv(LoadEmbeddedDigits(labelColumn, task), known);
        }
        if (known is not null)
        {
            var path = FindSharedFile(known + ".csv");
            return FromCsv(CsvDataset.Load(path, labelColumn, task), known);
        }
        if (Directory.Exists(spec))
        {
            var (train, test) = IdxDataset.LoadFolder(spec);
            return new LoadedData(train, test, train.Name);
        }
        if (File.Exists(spec))
        {
            var data = CsvDataset.Load(spec, labelColumn, task);
            return FromCsv(data, data.Name);
        }
        throw new DataFormatException(
            $"no such file or folder: {spec}; expected {string.Join('|', KnownNames)} or a path to a CSV file or IDX folder");
    }

    /// <summary>
    /// Finds a shared data file: in <c>DISTTRAINER_DATA_DIR</c> if set, else in <c>shared/data/</c> or <c>data/</c>
    /// of the current directory, the application directory, or any of their parents.
    /// </summary>
    public static string FindSharedFile(string fileName)
    {
        var configured = Environment.GetEnvironmentVariable(DataDirVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            var path = Path.Combine(configured, fileName);
            if (File.Exists(path))
            {
                return path;
            }
            throw new DataFormatException(
                $"{fileName} not found in {DataDirVariable}={configured}; point {DataDirVariable} at the folder holding it or pass the path to the CSV file");
        }

        var roots = new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory }
            .Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d)))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        foreach (var root in roots)
        {
            for (var dir = new DirectoryInfo(root); dir is not null; dir = dir.Parent)
            {
                foreach (var relative in new[] { Path.Combine("shared", "data"), "data" })
                {
                    var path = Path.Combine(dir.FullName, relative, fileName);
                    if (File.Exists(path))
                    {
                        return path;
                    }
                }
            }
        }
        throw new DataFormatException(
            $"{fileName} not found: looked in shared/data/ and data/ of {string.Join(" and ", roots)} and their parents; "
            + $"set {DataDirVariable} to the folder holding it or pass the path to the CSV file");
    }

    private static Dataset LoadEmbeddedDigits(string? labelColumn, TaskKind? task)
    {
        using var stream = typeof(Dataset).Assembly.GetManifestResourceStream(DigitsResource)
            ?? throw new InvalidOperationException($"The embedded resource {DigitsResource} is missing from the build.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return CsvDataset.Parse(reader, "digits.csv", labelColumn, task);
    }

    private static LoadedData FromCsv(Dataset data, string name)
    {
        var (train, test) = DataSplit.Fixed(data);
        return new LoadedData(train, test, name);
    }
}
