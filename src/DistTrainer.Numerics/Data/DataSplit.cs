namespace DistTrainer.Numerics.Data;

/// <summary>The fixed, deterministic train/test split of the shared datasets (see shared/data/README.md).</summary>
public static class DataSplit
{
    /// <summary>
    /// Classification: walking rows in order with a counter per class, a row is test when its class counter, before the
    /// row is counted, satisfies count % 5 == 4 (stratified, about 20%). Regression: row i is test when i % 5 == 4.
    /// </summary>
    public static (Dataset Train, Dataset Test) Fixed(Dataset data)
    {
        var testCount = 0;
        var isTest = new bool[data.Count];
        if (data.Task == TaskKind.Classification)
        {
            var perClass = new int[data.ClassCount];
            for (var i = 0; i < data.Count; i++)
            {
                var label = (int)data.Targets[i];
                isTest[i] = perClass[label]++ % 5 == 4;
                testCount += isTest[i] ? 1 : 0;
            }
        }
        else
        {
            for (var i = 0; i < data.Count; i++)
            {
                isTest[i] = i % 5 == 4;
                testCount += isTest[i] ? 1 : 0;
            }
        }

        var train = new int[data.Count - testCount];
        var test = new int[testCount];
        for (int i = 0, a = 0, b = 0; i < data.Count; i++)
        {
            if (isTest[i])
            {
                test[b++] = i;
            }
            else
            {
                train[a++] = i;
            }
        }
        return (data.Select(train), data.Select(test));
    }
}
