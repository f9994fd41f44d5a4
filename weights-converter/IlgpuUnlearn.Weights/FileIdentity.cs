using System.Runtime.InteropServices;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// Whether two paths name the same file: the same full path after following symbolic links, or (on Linux and macOS) the
/// same device and inode, which also catches a hard link. Used where writing one path would destroy the other (convert IN OUT).
/// </summary>
public static partial class FileIdentity
{
    /// <summary>True when both exist and are one file. A path that does not exist is never the same as another.</summary>
    public static bool Same(string a, string b)
    {
        if (!File.Exists(a) || !File.Exists(b)) return false;
        if (string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal)) return true;
        return DeviceAndInode(a) is { } x && DeviceAndInode(b) is { } y && x == y;
    }

    static string Resolve(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return (info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) ?? info).FullName;
    }

    /// <summary>
    /// .NET's own stat (System.Native's SystemNative_Stat, which File.GetAttributes uses) and its FileStatus layout
    /// (src/native/libs/System.Native/pal_io.h: Flags, Mode, Uid, Gid, Size, eight times, Dev, RDev, Ino, UserFlags).
    /// The size it reports is checked against FileInfo.Length, so a layout that ever differs gives null, not a wrong answer.
    /// </summary>
    static (long Dev, long Ino)? DeviceAndInode(string path)
    {
        if (OperatingSystem.IsWindows()) return null;
        try
        {
            if (Stat(Path.GetFullPath(path), out var status) != 0) return null;
            if (status.Size != new FileInfo(path).Length) return null;
            return (status.Dev, status.Ino);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    struct FileStatus
    {
        public int Flags, Mode;
        public uint Uid, Gid;
        public long Size, ATime, ATimeNsec, MTime, MTimeNsec, CTime, CTimeNsec, BirthTime, BirthTimeNsec, Dev, RDev, Ino;
        public uint UserFlags;
        public long Spare0, Spare1, Spare2, Spare3;   // room should a later runtime append fields
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, out FileStatus status);
}
