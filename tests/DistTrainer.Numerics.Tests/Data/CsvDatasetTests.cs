using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests.Data;

public class CsvDatasetTests
{
    private static Dataset Parse(string text, string? labelColumn = null, TaskKind? task = null) =>
        CsvDataset.Parse(new StringReader(text), "t.csv", labelColumn, task);

    private static string ParseError(string text, string? labelColumn = null, TaskKind? task = null)
    {
        var e = Assert.Throws<DataFormatException>(() => Parse(text, labelColumn, task));
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void Csv_should_read_features_row_major_and_the_last_column_as_label()
    {
        var data = Parse("a,b,label\n1,2.5,0\n-3,4e1,1\n5,6,1\n");
        Assert.Equal(["a", "b"], data.FeatureNames);
        Assert.Equal("label", data.LabelName);
        Assert.Equal("t", data.Name);
        Assert.Equal([1f, 2.5f, -3f, 40f, 5f, 6f], data.Features);
        Assert.Equal([0f, 1f, 1f], data.Targets);
        Assert.Equal(TaskKind.Classification, data.Task);
        Assert.Equal(2, data.ClassCount);
    }

    [Fact]
    public void Csv_should_accept_crlf_line_endings_a_missing_final_newline_and_blank_lines()
    {
        var data = Parse("a,label\r\n1,0\r\n\r\n2,1");
        Assert.Equal([1f, 2f], data.Features);
        Assert.Equal([0f, 1f], data.Targets);
    }

    [Fact]
    public void Csv_should_take_a_named_label_column_from_the_middle()
    {
        var data = Parse("a,y,b\n1,10.5,2\n3,20.5,4\n", labelColumn: "y");
        Assert.Equal(["a", "b"], data.FeatureNames);
        Assert.Equal([1f, 2f, 3f, 4f], data.Features);
        Assert.Equal([10.5f, 20.5f], data.Targets);
        Assert.Equal(TaskKind.Regression, data.Task);
        Assert.Equal(0, data.ClassCount);
    }

    [Fact]
    public void Csv_should_list_the_columns_when_the_named_label_is_missing()
    {
        var message = ParseError("a,b,c\n1,2,3\n", labelColumn: "target");
        Assert.Equal("t.csv:1: expected a label column named \"target\", found none; the columns are: a, b, c", message);
    }

    [Fact]
    public void Csv_should_name_line_and_column_of_non_numeric_field()
    {
        var message = ParseError("x,pixel_0_4,label\n1,2,0\n3,abc,1\n");
        Assert.Equal("t.csv:3: column 2 (pixel_0_4): expected a number, found \"abc\"", message);
    }

    [Fact]
    public void Csv_should_reject_an_empty_field()
    {
        var message = ParseError("a,b,label\n1,,0\n");
        Assert.Equal("t.csv:2: column 2 (b): expected a number, found an empty field", message);
    }

    [Fact]
    public void Csv_should_reject_an_empty_label_in_the_last_column()
    {
        var message = ParseError("a,b,label\n1,2,\n");
        Assert.Equal("t.csv:2: column 3 (label): expected a number, found an empty field", message);
    }

    [Fact]
    public void Csv_should_reject_a_short_row()
    {
        var message = ParseError("a,b,label\n1,2,0\n1,2\n");
        Assert.Equal("t.csv:3: column 3 (label): missing: expected 3 columns as in the header, found 2", message);
    }

    [Fact]
    public void Csv_should_reject_a_long_row()
    {
        var message = ParseError("a,b,label\n1,2,0,9,9\n");
        Assert.Equal("t.csv:2: column 4: expected 3 columns as in the header, found 5 (extra field \"9\")", message);
    }

    [Fact]
    public void Csv_should_reject_an_empty_file()
    {
        Assert.Equal("t.csv:1: expected a header line of column names, found an empty file", ParseError(""));
    }

    [Fact]
    public void Csv_should_reject_a_header_without_rows()
    {
        Assert.Equal("t.csv:2: expected data rows after the header, found none", ParseError("a,b,label\n"));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e39")]
    public void Csv_should_reject_values_that_are_not_finite(string value)
    {
        var message = ParseError($"a,b,label\n1,2,0\n1,{value},1\n");
        Assert.Equal($"t.csv:3: column 2 (b): expected a finite number, found \"{value}\"", message);
    }

    [Fact]
    public void Csv_should_reject_duplicate_column_names()
    {
        var message = ParseError("a,b,a,label\n1,2,3,0\n");
        Assert.Equal("t.csv:1: column 3 (a): duplicate column name, already used by column 1", message);
    }

    [Fact]
    public void Csv_should_reject_a_header_with_a_single_column()
    {
        Assert.StartsWith("t.csv:1: expected at least 2 columns", ParseError("label\n0\n"));
    }

    [Theory]
    [InlineData("2.5")]
    [InlineData("-1")]
    public void Csv_should_reject_a_label_that_is_not_a_class_index_when_classification_is_forced(string label)
    {
        var message = ParseError($"a,label\n1,0\n2,1\n3,{label}\n", task: TaskKind.Classification);
        Assert.StartsWith($"t.csv:4: column 2 (label): label out of range: expected a class index (an integer 0..", message);
        Assert.EndsWith($"found \"{label}\"", message);
    }

    [Fact]
    public void Csv_should_use_max_label_plus_one_as_class_count_when_classification_is_forced()
    {
        var data = Parse("a,label\n1,3\n2,1\n", task: TaskKind.Classification);
        Assert.Equal(TaskKind.Classification, data.Task);
        Assert.Equal(4, data.ClassCount);
    }

    [Fact]
    public void Csv_should_keep_class_like_labels_as_regression_when_regression_is_forced()
    {
        var data = Parse("a,label\n1,0\n2,1\n", task: TaskKind.Regression);
        Assert.Equal(TaskKind.Regression, data.Task);
    }

    [Theory]
    [InlineData("0,1,2", TaskKind.Classification)]
    [InlineData("1,2,3", TaskKind.Regression)]      // no class 0
    [InlineData("0,2,2", TaskKind.Regression)]      // gap: class 1 never appears
    [InlineData("0,0,0", TaskKind.Regression)]      // a single value is not a classification
    [InlineData("0,1,1.5", TaskKind.Regression)]
    [InlineData("25,346,151", TaskKind.Regression)] // integer targets like diabetes
    public void Csv_should_infer_classification_only_for_labels_that_are_exactly_0_to_K_minus_1(string labels, TaskKind expected)
    {
        var text = "a,label\n" + string.Concat(labels.Split(',').Select((l, i) => $"{i},{l}\n"));
        Assert.Equal(expected, Parse(text).Task);
    }

    [Fact]
    public void Csv_should_name_the_file_path_when_loading_from_disk()
    {
        using var folder = new TempFolder();
        var path = folder.Write("bad.csv", "a,label\n1,0\nx,1\n");
        var e = Assert.Throws<DataFormatException>(() => CsvDataset.Load(path));
        Assert.Equal($"{path}:3: column 1 (a): expected a number, found \"x\"", e.Message);
    }

    [Fact]
    public void Csv_should_report_a_missing_file_as_a_data_error()
    {
        var e = Assert.Throws<DataFormatException>(() => CsvDataset.Load("/nonexistent/x.csv"));
        Assert.Equal("/nonexistent/x.csv: no such file", e.Message);
    }

    [Fact]
    public void Csv_should_read_lines_longer_than_its_buffer()
    {
        // 12000 fields of "123.5," make a line longer than the 64K-char reader buffer.
        const int Columns = 12000;
        var header = string.Join(',', Enumerable.Range(0, Columns).Select(i => $"f{i}")) + ",label\n";
        var row = string.Concat(Enumerable.Repeat("123.5,", Columns));
        var data = Parse(header + row + "0\n" + row + "1\n");
        Assert.Equal(2 * Columns, data.Features.Length);
        Assert.All(data.Features, v => Assert.Equal(123.5f, v));
        Assert.Equal([0f, 1f], data.Targets);
    }

    [Theory]
    [InlineData("iris.csv", 150, 4, TaskKind.Classification, 3)]
    [InlineData("wine.csv", 178, 13, TaskKind.Classification, 3)]
    [InlineData("breast_cancer.csv", 569, 30, TaskKind.Classification, 2)]
    [InlineData("digits.csv", 1797, 64, TaskKind.Classification, 10)]
    [InlineData("diabetes.csv", 442, 10, TaskKind.Regression, 0)]
    public void Csv_should_infer_the_task_of_each_shared_dataset(string file, int rows, int features, TaskKind task, int classes)
    {
        var data = CsvDataset.Load(TestData.Shared(file));
        Assert.Equal(rows, data.Count);
        Assert.Equal(features, data.FeatureCount);
        Assert.Equal(task, data.Task);
        Assert.Equal(classes, data.ClassCount);
        Assert.Equal(task == TaskKind.Classification ? "label" : "target", data.LabelName);
    }

    [Fact]
    public void Csv_should_parse_shared_values_exactly_as_written()
    {
        var iris = CsvDataset.Load(TestData.Shared("iris.csv"));
        Assert.Equal(["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"], iris.FeatureNames);
        Assert.Equal([5.1f, 3.5f, 1.4f, 0.2f], iris.Row(0).ToArray());
        var diabetes = CsvDataset.Load(TestData.Shared("diabetes.csv"));
        Assert.Equal(151f, diabetes.Targets[0]);
        Assert.Equal(25f, diabetes.Targets.Min());
        Assert.Equal(346f, diabetes.Targets.Max());
    }
}
