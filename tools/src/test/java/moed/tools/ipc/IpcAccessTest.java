package moed.tools.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The IPC directory's modes and the refusal of loose ones. The tests run as root here, which bypasses permission
 * checks: they test the modes the files get and the refusal logic, not the kernel's enforcement.
 */
class IpcAccessTest {
    /** A group other than the owner's, so that a chgrp shows. */
    static final String GROUP = "daemon";

    @TempDir
    Path tmp;

    static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    static String group(Path p) throws IOException {
        return Files.readAttributes(p, PosixFileAttributes.class).group().getName();
    }

    @Test
    void byDefaultOnlyTheOwnerMayUseTheDirectoryAndItsFiles() throws Exception {
        Path d = tmp.resolve("ipc");
        IpcDirectory dir = new IpcDirectory(d);
        try (var lock = dir.lockForServer(); var ring = dir.createRing(dir.requestRing(), 1024)) {
            dir.writeInfo(1, "m");
            assertEquals("rwx------", mode(d));
            for (Path f : new Path[] {dir.lockFile(), dir.requestRing(), dir.infoFile()}) {
                assertEquals("rw-------", mode(f), f.toString());
            }
            IpcDirectory client = IpcDirectory.forClient(d);
            try (var reply = client.createRing(client.clientRing(7), 1024)) {
                assertEquals("rw-------", mode(reply.file()));
            }
        }
    }

    @Test
    void sharedWithAGroupTheDirectoryIs0770AndItsFiles0660OfThatGroup() throws Exception {
        Path d = tmp.resolve("ipc");
        IpcDirectory dir = new IpcDirectory(d, IpcAccess.group(d, GROUP));
        try (var lock = dir.lockForServer(); var ring = dir.createRing(dir.requestRing(), 1024)) {
            dir.writeInfo(1, "m");
            assertEquals("rwxrwx---", mode(d));
            assertEquals(GROUP, group(d));
            for (Path f : new Path[] {dir.lockFile(), dir.requestRing(), dir.infoFile()}) {
                assertEquals("rw-rw----", mode(f), f.toString());
                assertEquals(GROUP, group(f), f.toString());
            }
            // A client's reply ring follows the directory, so that the server (of the group) can open it.
            IpcDirectory client = IpcDirectory.forClient(d);
            try (var reply = client.createRing(client.clientRing(7), 1024)) {
                assertEquals("rw-rw----", mode(reply.file()));
                assertEquals(GROUP, group(reply.file()));
            }
        }
    }

    @Test
    void aDirectoryOthersCanWriteIsRefusedByServerAndClientNamingItsMode() throws Exception {
        Path d = Files.createDirectory(tmp.resolve("ipc"));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException server = assertThrows(IOException.class, () -> new IpcDirectory(d).lockForServer());
        assertTrue(server.getMessage().startsWith("refusing the IPC directory " + d + ": its mode 0777 lets every local user write it"),
                server.getMessage());
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xrwx"));
        IOException client = assertThrows(IOException.class, () -> MoedClient.connect(d));
        assertTrue(client.getMessage().contains(d + ": its mode 0757"), client.getMessage());
        assertTrue(Files.notExists(new IpcDirectory(d).lockFile()), "nothing was created in a refused directory");
    }

    @Test
    void aGroupWritableDirectoryIsRefusedUnlessSharedWithThatGroup() throws Exception {
        Path d = Files.createDirectory(tmp.resolve("ipc"));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwx---"));
        IOException e = assertThrows(IOException.class, () -> new IpcDirectory(d).lockForServer());
        assertTrue(e.getMessage().contains("its mode 0770 lets its group write it"), e.getMessage());
        new IpcDirectory(d, IpcAccess.group(d, GROUP)).lockForServer().close();
        IpcAccess.checkNotLoose(d, true); // a client accepts a group-shared directory
    }

    @Test
    void anUnknownGroupIsNamed() {
        IOException e = assertThrows(IOException.class, () -> IpcAccess.group(tmp, "no-such-group-moed"));
        assertEquals("no group named 'no-such-group-moed' (--ipc-group)", e.getMessage());
    }
}
