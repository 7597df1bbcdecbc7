/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sgwrite DEVICE LBA MARKER — try to write one block with a SCSI WRITE(10) sent through
 * SG_IO, bypassing the block layer's read-only flag (device-control.md 2.2). Used by
 * tests/vm/run-e2e.sh as root (control: it can write) and as a member of the disk and
 * cdrom groups (it must not).
 *
 * It opens DEVICE O_RDWR, or O_RDONLY when that is refused, reads the block size with
 * READ CAPACITY(10), then writes block LBA filled with MARKER repeated. One line of
 * key=value results goes to stdout. Exit status: 0 the write completed with GOOD status,
 * 1 it did not (open, ioctl, SCSI or transport error), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SENSE_MAX 32
#define BLOCK_MAX 4096
#define TIMEOUT_MS 20000

struct sg_result {
	int ioctl_errno;
	unsigned status, host_status, driver_status;
	unsigned char sense[SENSE_MAX];
	unsigned sense_len;
};

static int sg_cmd(int fd, unsigned char *cdb, unsigned cdb_len, int dir, void *buf,
    unsigned len, struct sg_result *res)
{
	struct sg_io_hdr io;

	memset(&io, 0, sizeof(io));
	memset(res, 0, sizeof(*res));
	io.interface_id = 'S';
	io.cmdp = cdb;
	io.cmd_len = (unsigned char)cdb_len;
	io.dxfer_direction = dir;
	io.dxferp = buf;
	io.dxfer_len = len;
	io.sbp = res->sense;
	io.mx_sb_len = SENSE_MAX;
	io.timeout = TIMEOUT_MS;
	if (ioctl(fd, SG_IO, &io) < 0) {
		res->ioctl_errno = errno;
		return -errno;
	}
	res->status = io.status;
	res->host_status = io.host_status;
	res->driver_status = io.driver_status;
	res->sense_len = io.sb_len_wr;
	if (io.status != 0 || io.host_status != 0 || (io.driver_status & 0x0f) != 0)
		return -EIO;
	return 0;
}

static void print_result(const char *what, const struct sg_result *res)
{
	unsigned i;

	if (res->ioctl_errno != 0) {
		printf(" %s_errno=%d(%s)", what, res->ioctl_errno, strerror(res->ioctl_errno));
		return;
	}
	printf(" %s_status=0x%02x %s_host=0x%02x %s_driver=0x%02x", what, res->status, what,
	    res->host_status, what, res->driver_status);
	if (res->sense_len > 0) {
		printf(" %s_sense=", what);
		for (i = 0; i < res->sense_len && i < 18; i++)
			printf("%02x", res->sense[i]);
	}
}

static unsigned block_size(int fd, struct sg_result *res)
{
	unsigned char cdb[10] = { 0x25 };	/* READ CAPACITY(10) */
	unsigned char cap[8] = { 0 };
	unsigned bs;

	if (sg_cmd(fd, cdb, sizeof(cdb), SG_DXFER_FROM_DEV, cap, sizeof(cap), res) < 0)
		return 512;	/* try anyway with the common size */
	bs = (unsigned)cap[4] << 24 | (unsigned)cap[5] << 16 | (unsigned)cap[6] << 8 | cap[7];
	return bs >= 512 && bs <= BLOCK_MAX ? bs : 512;
}

int main(int argc, char **argv)
{
	static unsigned char block[BLOCK_MAX];
	unsigned char cdb[10] = { 0x2a };	/* WRITE(10) */
	struct sg_result cap, wr;
	const char *mode = "O_RDWR";
	char *end = NULL;
	unsigned long long lba;
	size_t mlen, i;
	unsigned bs;
	int fd, r;

	if (argc != 4) {
		fprintf(stderr, "usage: sgwrite DEVICE LBA MARKER\n");
		return 2;
	}
	errno = 0;
	lba = strtoull(argv[2], &end, 10);
	mlen = strlen(argv[3]);
	if (errno != 0 || end == argv[2] || *end != '\0' || lba > UINT32_MAX || mlen == 0) {
		fprintf(stderr, "sgwrite: bad LBA or empty marker\n");
		return 2;
	}
	printf("sgwrite: dev=%s uid=%d euid=%d", argv[1], (int)getuid(), (int)geteuid());
	fd = open(argv[1], O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		printf(" open_rdwr_errno=%d(%s)", errno, strerror(errno));
		mode = "O_RDONLY";
		fd = open(argv[1], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0) {
		printf(" open_rdonly_errno=%d(%s) result=not-written\n", errno, strerror(errno));
		return 1;
	}
	printf(" open=%s", mode);
	bs = block_size(fd, &cap);
	print_result("readcap", &cap);
	for (i = 0; i < bs; i++)
		block[i] = (unsigned char)argv[3][i % mlen];
	cdb[2] = (unsigned char)(lba >> 24);
	cdb[3] = (unsigned char)(lba >> 16);
	cdb[4] = (unsigned char)(lba >> 8);
	cdb[5] = (unsigned char)lba;
	cdb[8] = 1;	/* one block */
	r = sg_cmd(fd, cdb, sizeof(cdb), SG_DXFER_TO_DEV, block, bs, &wr);
	printf(" block_size=%u lba=%llu", bs, lba);
	print_result("write", &wr);
	printf(" result=%s\n", r == 0 ? "written" : "not-written");
	close(fd);
	return r == 0 ? 0 : 1;
}
