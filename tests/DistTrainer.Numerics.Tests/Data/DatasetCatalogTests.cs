using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests.Data;

[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

public class DatasetCatalogTests
{
    [Fact]
    public void Catalog_should_load_embedded_digits_with_the_fixed_split()
    {
        var data = DatasetCatalog.Load("digits");
        Assert.Equal("digits", data.Name);
        Assert.Equal(1442, data.Train.Count);
        Assert.Equal(355, data.Test.Count);
        Assert.Equal(10, data.Train.ClassCount);
    }

    [Fact]
    public void Catalog_embedded_digits_should_equal_the_shared_file()
    {
        var embedded = DatasetCatalog.Load("digits");
        var shared = DatasetCatalog.Load(TestData.Shared("digits.csv"));
        Assert.Equal(shared.Train.Features, embedded.Train.Features);
        Assert.Equal(shared.Test.Targets, embedded.Test.Targets);
    }

    [Theory]
    [InlineData("iris", 120, 30, TaskKind.Classification)]
    [InlineData("wine", 144, 34, TaskKind.Classification)]
    [InlineData("breast_cancer", 456, 113, TaskKind.Classification)]
    [InlineData("diabetes", 354, 88, TaskKind.Regression)]
    public void Catalog_should_find_shared_datasets_by_name(string name, int train, int test, TaskKind task)
    {
        var data = DatasetCatalog.Load(name);
        Assert.Equal(name, data.Name);
        Assert.Equal((train, test), (data.Train.Count, data.Test.Count));
        Assert.Equal(task, data.Train.Task);
    }

    [Fact]
    public void Catalog_should_load_a_csv_path_with_label_and_task_options()
    {
        var data = DatasetCatalog.Load(TestData.Shared("iris.csv"), labelColumn: "petal_width_cm", task: TaskKind.Regression);
        Assert.Equal("iris", data.Name);
        Assert.Equal("petal_width_cm", data.Train.LabelName);
        Assert.Equal(TaskKind.Regression, data.Train.Task);
        Assert.Equal((120, 30), (data.Train.Count, data.Test.Count));
    }

    [Fact]
    public void Catalog_should_load_an_idx_folder_with_its_canonical_split()
    {
        using var folder = new TempFolder();
        folder.Write("train-images-idx3-ubyte", TestData.IdxImages(3, 2, 2));
        folder.Write("train-labels-idx1-ubyte", TestData.IdxLabels([0, 1, 1]));
        folder.Write("t10k-images-idx3-ubyte", TestData.IdxImages(1, 2, 2));
        folder.Write("t10k-labels-idx1-ubyte", TestData.IdxLabels([1]));
        var data = DatasetCatalog.Load(folder.Path);
        Assert.Equal((3, 1), (data.Train.Count, data.Test.Count));
        Assert.Equal(Path.GetFileName(folder.Path), data.Name);
    }

    [Fact]
    public void Catalog_should_explain_a_missing_path()
    {
        var e = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("no/such/thing.csv"));
        Assert.Equal(
            "no such file or folder: no/such/thing.csv; expected digits|iris|wine|breast_cancer|diabetes or a path to a CSV file or IDX folder",
            e.Message);
    }
}

[Collection(nameof(EnvironmentCollection))]
public class DatasetCatalogEnvironmentTests
{
    [Fact]
    public void Catalog_should_read_shared_datasets_from_the_data_dir_variable()
    {
        using var folder = new TempFolder();
        folder.Write("iris.csv", "a,label\n1,0\n2,1\n3,0\n4,1\n5,0\n");
        var previous = Environment.GetEnvironmentVariable(DatasetCatalog.DataDirVariable);
        try
        {
            Environment.SetEnvironmentVariable(DatasetCatalog.DataDirVariable, folder.Path);
            var data = DatasetCatalog.Load("iris");
            Assert.Equal(5, data.Train.Count + data.Test.Count);

            var e = Assert.Throws<DataFormatException>(() => DatasetCatalog.Load("wine"));
            Assert.Contains($"wine.csv not found in {DatasetCatalog.DataDirVariable}={folder.Path}", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(DatasetCatalog.DataDirVariable, previous);
        }
    }
}
