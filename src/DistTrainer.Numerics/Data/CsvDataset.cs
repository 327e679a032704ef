using System.Globalization;
using System.Text;

namespace DistTrainer.Numerics.Data;

/// <summary>
/// Reads a numeric CSV table: a header line of column names, then one sample per line, comma separated, "." as the
/// decimal point (invariant culture). One column is the label (the last unless named); every other column is a feature.
/// Every bad input is a <see cref="DataFormatException"/> whose one-line message names the source, the line, the column
/// and what was expected.
/// </summary>
public static class CsvDataset
{
    /// <summary>
    /// Labels are inferred to be class indices only when they are integers whose distinct values are exactly 0..K-1 with
    /// 2 ≤ K ≤ this bound. An integer target such as diabetes' 25..346 stays regression.
    /// </summary>
    public const int MaxInferredClassCount = 100;

    /// <summary>Largest class count accepted when classification is forced.</summary>
    public const int MaxClassCount = 65536;

    public static Dataset Load(string path, string? labelColumn = null, TaskKind? task = null)
    {
        if (!File.Exists(path))
        {
            throw new DataFormatException($"{path}: no such file");
        }
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        return Parse(reader, path, labelColumn, task);
    }

    /// <param name="sourceName">Used in error messages and, without folder and extension, as the dataset name.</param>
    public static Dataset Parse(TextReader reader, string sourceName, string? labelColumn = null, TaskKind? task = null)
    {
        var lines = new LineReader(reader);
        var columns = ReadHeader(lines, sourceName);
        var labelIndex = FindLabel(columns, labelColumn, sourceName);
        var columnCount = columns.Length;
        var featureCount = columnCount - 1;
        var forceClassification = task == TaskKind.Classification;

        var targets = new float[256];
        var features = new float[targets.Length * featureCount];
        var rows = 0;
        var maxClass = -1;
        while (lines.TryReadLine(out var line))
        {
            if (line.IsWhiteSpace())
            {
                continue;
            }
            if (rows == targets.Length)
            {
                Grow(ref targets, ref features, featureCount, sourceName);
            }
            var featureIndex = rows * featureCount;
            var column = 0;
            var rest = line;
            while (true)
            {
                var comma = rest.IndexOf(',');
                var field = comma < 0 ? rest : rest[..comma];
                if (column == columnCount)
                {
                    throw Error(sourceName, lines.LineNumber,
                        $"column {column + 1}: expected {columnCount} columns as in the header, found {line.Count(',') + 1} (extra field {Quote(field)})");
                }
                var value = ParseNumber(field, sourceName, lines.LineNumber, column, columns);
                if (column == labelIndex)
                {
                    if (forceClassification)
                    {
                        var classIndex = ToClassIndex(value, MaxClassCount);
                        if (classIndex < 0)
                        {
                            throw Error(sourceName, lines.LineNumber,
                                $"{ColumnLabel(column, columns)}: label out of range: expected a class index (an integer 0..{MaxClassCount - 1}) because classification was requested, found {Quote(field)}");
                        }
                        maxClass = Math.Max(maxClass, classIndex);
                    }
                    targets[rows] = value;
                }
                else
                {
                    features[featureIndex++] = value;
                }
                column++;
                if (comma < 0)
                {
                    break;
                }
                rest = rest[(comma + 1)..];
            }
            if (column < columnCount)
            {
                throw Error(sourceName, lines.LineNumber,
                    $"{ColumnLabel(column, columns)}: missing: expected {columnCount} columns as in the header, found {column}");
            }
            rows++;
        }
        if (rows == 0)
        {
            throw Error(sourceName, lines.LineNumber + 1, "expected data rows after the header, found none");
        }

        if (targets.Length != rows)
        {
            Array.Resize(ref targets, rows);
            Array.Resize(ref features, rows * featureCount);
        }

        var labelName = columns[labelIndex];
        var featureNames = new string[featureCount];
        for (int c = 0, f = 0; c < columnCount; c++)
        {
            if (c != labelIndex)
            {
                featureNames[f++] = columns[c];
            }
        }

        TaskKind kind;
        int classCount;
        if (forceClassification)
        {
            kind = TaskKind.Classification;
            classCount = maxClass + 1;
            if (classCount < 2)
            {
                throw new DataFormatException(
                    $"{sourceName}: {ColumnLabel(labelIndex, columns)}: expected at least 2 classes for classification, found only class 0");
            }
        }
        else if (task == TaskKind.Regression)
        {
            kind = TaskKind.Regression;
            classCount = 0;
        }
        else
        {
            classCount = InferClassCount(targets);
            kind = classCount > 0 ? TaskKind.Classification : TaskKind.Regression;
        }

        var name = Path.GetFileNameWithoutExtension(sourceName);
        return new Dataset(name, featureNames, labelName, kind, classCount, features, targets);
    }

    /// <summary>
    /// K when every label is an integer and the distinct labels are exactly 0..K-1 with 2 ≤ K ≤
    /// <see cref="MaxInferredClassCount"/>; otherwise 0 (regression).
    /// </summary>
    internal static int InferClassCount(ReadOnlySpan<float> labels)
    {
        Span<bool> seen = stackalloc bool[MaxInferredClassCount];
        var max = -1;
        foreach (var label in labels)
        {
            var classIndex = ToClassIndex(label, MaxInferredClassCount);
            if (classIndex < 0)
            {
                return 0;
            }
            seen[classIndex] = true;
            max = Math.Max(max, classIndex);
        }
        if (max < 1)
        {
            return 0;
        }
        return seen[..(max + 1)].Contains(false) ? 0 : max + 1;
    }

    /// <summary>The label as a class index below <paramref name="limit"/>, or -1 if it is not one.</summary>
    private static int ToClassIndex(float label, int limit) =>
        label >= 0 && label < limit && label == MathF.Floor(label) ? (int)label : -1;

    private static string[] ReadHeader(LineReader lines, string sourceName)
    {
        if (!lines.TryReadLine(out var header))
        {
            throw Error(sourceName, 1, "expected a header line of column names, found an empty file");
        }
        if (header.Length > 0 && header[0] == '\uFEFF')
        {
            header = header[1..];
        }
        if (header.IsWhiteSpace())
        {
            throw Error(sourceName, 1, "expected a header line of column names, found an empty line");
        }

        var columns = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var rest = header;
        while (true)
        {
            var comma = rest.IndexOf(',');
            var name = (comma < 0 ? rest : rest[..comma]).Trim().ToString();
            var column = columns.Count;
            if (name.Length == 0)
            {
                throw Error(sourceName, 1, $"column {column + 1}: expected a column name, found an empty field");
            }
            if (!seen.TryAdd(name, column))
            {
                throw Error(sourceName, 1, $"column {column + 1} ({name}): duplicate column name, already used by column {seen[name] + 1}");
            }
            columns.Add(name);
            if (comma < 0)
            {
                break;
            }
            rest = rest[(comma + 1)..];
        }
        if (columns.Count < 2)
        {
            throw Error(sourceName, 1, $"expected at least 2 columns (features and a label), found 1 ({columns[0]})");
        }
        return [.. columns];
    }

    private static int FindLabel(string[] columns, string? labelColumn, string sourceName)
    {
        if (labelColumn is null)
        {
            return columns.Length - 1;
        }
        var index = Array.IndexOf(columns, labelColumn);
        if (index >= 0)
        {
            return index;
        }
        const int Listed = 20;
        var available = string.Join(", ", columns.Take(Listed));
        if (columns.Length > Listed)
        {
            available += $", ... ({columns.Length} columns)";
        }
        throw Error(sourceName, 1, $"expected a label column named {Quote(labelColumn)}, found none; the columns are: {available}");
    }

    private static float ParseNumber(ReadOnlySpan<char> field, string sourceName, int line, int column, string[] columns)
    {
        if (float.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            if (float.IsFinite(value))
            {
                return value;
            }
            throw Error(sourceName, line, $"{ColumnLabel(column, columns)}: expected a finite number, found {Quote(field)}");
        }
        var found = field.IsWhiteSpace() ? "an empty field" : Quote(field);
        throw Error(sourceName, line, $"{ColumnLabel(column, columns)}: expected a number, found {found}");
    }

    private static void Grow(ref float[] targets, ref float[] features, int featureCount, string sourceName)
    {
        var rows = (long)targets.Length * 2;
        if (rows * featureCount > Array.MaxLength)
        {
            rows = Array.MaxLength / featureCount;
            if (rows <= targets.Length)
            {
                throw new DataFormatException($"{sourceName}: too large: more than {targets.Length} rows of {featureCount} features do not fit in one array");
            }
        }
        Array.Resize(ref targets, (int)rows);
        Array.Resize(ref features, (int)rows * featureCount);
    }

    private static string ColumnLabel(int column, string[] columns) => $"column {column + 1} ({columns[column]})";

    private static DataFormatException Error(string sourceName, int line, string message) =>
        new($"{sourceName}:{line}: {message}");

    /// <summary>The field in quotes, shortened so the message stays one readable line.</summary>
    internal static string Quote(ReadOnlySpan<char> text)
    {
        const int Max = 40;
        var shown = text.Length > Max ? string.Concat(text[..Max], "...") : text.ToString();
        return "\"" + shown.ReplaceLineEndings(" ") + "\"";
    }
}
