using DistTrainer.Numerics.Data;

namespace DistTrainer.Numerics.Tests.Data;

public class DataSplitTests
{
    [Theory]
    [InlineData("digits.csv", 1442, 355)]
    [InlineData("iris.csv", 120, 30)]
    [InlineData("wine.csv", 144, 34)]
    [InlineData("breast_cancer.csv", 456, 113)]
    [InlineData("diabetes.csv", 354, 88)]
    public void Fixed_split_should_match_the_counts_in_the_data_readme(string file, int train, int test)
    {
        var (trainSet, testSet) = DataSplit.Fixed(CsvDataset.Load(TestData.Shared(file)));
        Assert.Equal(train, trainSet.Count);
        Assert.Equal(test, testSet.Count);
    }

    [Fact]
    public void Fixed_split_should_put_every_fifth_row_of_each_class_in_test()
    {
        var wine = CsvDataset.Load(TestData.Shared("wine.csv"));
        var (_, test) = DataSplit.Fixed(wine);
        Assert.Equal(11, test.Targets.Count(t => t == 0));
        Assert.Equal(14, test.Targets.Count(t => t == 1));
        Assert.Equal(9, test.Targets.Count(t => t == 2));
        // Rows 4, 9, ... of class 0 (the file starts with class 0) are its test rows, in file order.
        Assert.Equal(wine.Row(4).ToArray(), test.Row(0).ToArray());
        Assert.Equal(wine.Row(9).ToArray(), test.Row(1).ToArray());
    }

    [Fact]
    public void Fixed_split_should_take_rows_by_index_for_regression()
    {
        var data = new Dataset("r", ["x"], "y", TaskKind.Regression, 0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var (train, test) = DataSplit.Fixed(data);
        Assert.Equal([4f, 9f], test.Targets);
        Assert.Equal([0f, 1f, 2f, 3f, 5f, 6f, 7f, 8f], train.Features);
    }
}
