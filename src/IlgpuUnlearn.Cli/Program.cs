namespace IlgpuUnlearn.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("ilgpu-unlearn");
        return 0;
    }
}
