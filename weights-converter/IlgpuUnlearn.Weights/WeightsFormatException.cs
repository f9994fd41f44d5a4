namespace IlgpuUnlearn.Weights;

/// <summary>
/// The one exception type this library throws for a file it cannot read or write: a bad format, a
/// truncated or corrupted file, a forbidden pickle global, a tensor that does not fit the model, and so on.
/// The message always starts with the file's name and then says what is wrong, on one line.
/// </summary>
public sealed class WeightsFormatException : Exception
{
    public WeightsFormatException(string filePath, string problem)
        : base($"{filePath}: {problem}")
    {
        FilePath = filePath;
        Problem = problem;
    }

    public WeightsFormatException(string filePath, string problem, Exception innerException)
        : base($"{filePath}: {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file (or source name) the problem was found in.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; }
}
