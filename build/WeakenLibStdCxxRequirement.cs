// MSBuild inline task (RoslynCodeTaskFactory). Written by hand because no tool that ships with the .NET SDK edits ELF
// version tables, and asking users to install patchelf would break "dotnet build just works".
//
// TorchSharp 0.107's libLibTorchSharp.so requires GLIBCXX_3.4.32 (GCC 13's libstdc++), but Debian 12 and Ubuntu 22.04
// ship libstdc++ up to 3.4.30. The only symbol bound to 3.4.32 is _ZSt21ios_base_library_initv and nothing relocates
// against it, so marking that one version requirement weak (VER_FLG_WEAK in .gnu.version_r) lets the loader accept the
// library. We patch the copy in the build output only, only when the system libstdc++ lacks the version, idempotently.
#nullable enable
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenLibStdCxxRequirement : Task
{
    [Required]
    public string LibraryPath { get; set; } = "";
    public string Version { get; set; } = "GLIBCXX_3.4.32";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    static readonly string[] LibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
    };

    public override bool Execute()
    {
        if (!File.Exists(LibraryPath))
            return true;
        string? systemLib = Array.Find(LibStdCxxCandidates, File.Exists);
        if (systemLib == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++ found; nothing to patch.");
            return true;
        }
        if (Contains(File.ReadAllBytes(systemLib), Encoding.ASCII.GetBytes(Version + "\0")))
        {
            Log.LogMessage(MessageImportance.Low, $"{systemLib} provides {Version}; {LibraryPath} left as is.");
            return true;
        }
        try
        {
            byte[] elf = File.ReadAllBytes(LibraryPath);
            switch (MarkWeak(elf, Version))
            {
                case PatchResult.Patched:
                    string tmp = LibraryPath + ".tmp";
                    File.WriteAllBytes(tmp, elf);
                    File.Delete(LibraryPath);
                    File.Move(tmp, LibraryPath);
                    Log.LogMessage(MessageImportance.High, $"SharpLM: marked {Version} weak in {LibraryPath} (system libstdc++ lacks it).");
                    break;
                case PatchResult.AlreadyWeak:
                    break;
                case PatchResult.NotRequired:
                    break;
            }
            return true;
        }
        catch (Exception e)
        {
            Log.LogWarning(
                $"SharpLM: could not patch {LibraryPath}: {e.Message}. TorchSharp may fail to load; install libstdc++ from GCC 13 or newer."
            );
            return true;
        }
    }

    enum PatchResult
    {
        Patched,
        AlreadyWeak,
        NotRequired,
    }

    static PatchResult MarkWeak(byte[] elf, string version)
    {
        if (
            elf.Length < 64
            || elf[0] != 0x7f
            || elf[1] != (byte)'E'
            || elf[2] != (byte)'L'
            || elf[3] != (byte)'F'
            || elf[4] != 2
            || elf[5] != 1
        )
            throw new InvalidDataException("not a little-endian 64-bit ELF file");
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A),
            shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed)
                continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28),
                count = (int)BitConverter.ToUInt32(elf, sh + 0x2C);
            int strtab = checked((int)BitConverter.ToUInt64(elf, checked((int)shoff + link * shentsize) + 0x18));
            int need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, need + 2);
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int name = strtab + (int)BitConverter.ToUInt32(elf, aux + 8);
                    if (CStringEquals(elf, name, version))
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0)
                            return PatchResult.AlreadyWeak;
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        return PatchResult.Patched;
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                need += (int)BitConverter.ToUInt32(elf, need + 12);
            }
        }
        return PatchResult.NotRequired;
    }

    static bool CStringEquals(byte[] data, int at, string s)
    {
        for (int i = 0; i < s.Length; i++)
            if (data[at + i] != (byte)s[i])
                return false;
        return data[at + s.Length] == 0;
    }

    // The task compiles against .NET Standard 2.0 (no span helpers), hence the plain loop.
    static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return true;
        }
        return false;
    }
}
