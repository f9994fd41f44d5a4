using IlgpuUnlearn.Weights.Commands;

namespace IlgpuUnlearn.Weights.Cli;

public static class Program
{
    public static int Main(string[] args) => WeightsCommandLine.Run(args, Console.Out, Console.Error);
}
