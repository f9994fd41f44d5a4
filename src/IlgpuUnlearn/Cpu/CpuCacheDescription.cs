using System.Runtime.Intrinsics.X86;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// What the CPU reports that the CPU path's blocking depends on: the vendor (/proc/cpuinfo's vendor_id, e.g. "AuthenticAMD",
/// "GenuineIntel"), whether AVX-512 (F) is there, and the sizes in bytes of one core's level-1 data cache and level-2 cache
/// (Linux's /sys/devices/system/cpu/cpu0/cache/index*/, which passes on what CPUID leaf 4 or 0x8000001D says).
/// </summary>
public sealed record CpuCacheDescription(string Vendor, bool Avx512, long L1DataBytes, long L2Bytes)
{
    /// <summary>Sizes assumed where the system does not say (no sysfs, another OS): those of most x86 cores of the last decade.</summary>
    public const long DefaultL1DataBytes = 32 * 1024, DefaultL2Bytes = 1024 * 1024;

    /// <summary>"AuthenticAMD, AVX-512, L1d 32 KiB, L2 1024 KiB".</summary>
    public override string ToString()
        => $"{Vendor}, {(Avx512 ? "AVX-512" : "no AVX-512")}, L1d {L1DataBytes / 1024} KiB, L2 {L2Bytes / 1024} KiB";

    /// <summary>This machine: sysfs's caches of cpu0, /proc/cpuinfo's vendor, the JIT's AVX-512 support.</summary>
    public static CpuCacheDescription ThisMachine { get; } =
        Read("/sys/devices/system/cpu/cpu0/cache", "/proc/cpuinfo", Avx512F.IsSupported);

    /// <summary>
    /// Reads the caches under <paramref name="cacheDirectory"/> (folders index0, index1, ... each with the files level, type and
    /// size, e.g. "1", "Data", "32K") and the vendor from <paramref name="cpuinfoPath"/>. What is missing or unreadable takes
    /// the defaults (<see cref="DefaultL1DataBytes"/>, <see cref="DefaultL2Bytes"/>, vendor "unknown").
    /// </summary>
    public static CpuCacheDescription Read(string cacheDirectory, string cpuinfoPath, bool avx512)
    {
        long l1 = 0, l2 = 0;
        try
        {
            foreach (var index in Directory.EnumerateDirectories(cacheDirectory, "index*"))
            {
                string level = ReadTrimmed(Path.Combine(index, "level")), type = ReadTrimmed(Path.Combine(index, "type"));
                long size = ParseSize(ReadTrimmed(Path.Combine(index, "size")));
                if (size <= 0) continue;
                if (level == "1" && type == "Data") l1 = size;
                else if (level == "2" && type is "Unified" or "Data") l2 = size;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        string vendor = "unknown";
        try
        {
            foreach (var line in File.ReadLines(cpuinfoPath))
                if (line.StartsWith("vendor_id", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0)
                {
                    vendor = line[(colon + 1)..].Trim();
                    break;
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new CpuCacheDescription(vendor, avx512, l1 > 0 ? l1 : DefaultL1DataBytes, l2 > 0 ? l2 : DefaultL2Bytes);
    }

    /// <summary>"32K" -> 32768, "2048K" -> 2097152, "1M" -> 1048576, "512" -> 512; 0 when it is not a size.</summary>
    public static long ParseSize(string text)
    {
        if (text.Length == 0) return 0;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1024, 'M' => 1024 * 1024, 'G' => 1024L * 1024 * 1024, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, out long value) && value > 0 ? value * unit : 0;
    }

    private static string ReadTrimmed(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "";
}
