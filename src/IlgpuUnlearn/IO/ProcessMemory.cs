namespace IlgpuUnlearn.IO;

/// <summary>The process's peak resident memory (Linux VmHWM), for benchmarks; 0 where /proc is absent.</summary>
public static class ProcessMemory
{
    public static long PeakResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException) { }
        return Environment.WorkingSet;
    }
}
