// The emulator's NCCL (include/nccl.h): one communicator over MPI_COMM_WORLD.
// Device memory is host memory and streams run work when it is queued, so an
// all-reduce is MPI_Allreduce in place when called; ncclAvg is the sum times
// 1/nranks (what src/dist/grad_sync.c does on the CPU).
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "nccl.h"

struct emu_nccl_comm {
    int nranks, rank;
};

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    strcpy(id->internal, "cuda_emu nccl");
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    int size = 0, me = -1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    // the id must be rank 0's (broadcast by the caller); the ranks MPI's
    if (strcmp(id.internal, "cuda_emu nccl") != 0 || nranks != size || rank != me)
        return ncclInvalidArgument;
    *comm = malloc(sizeof **comm);
    if (!*comm) return ncclInvalidArgument;
    (*comm)->nranks = nranks, (*comm)->rank = rank;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    free(comm);
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
    (void)stream;
    if (datatype != ncclFloat32 || (op != ncclSum && op != ncclAvg) || count > (size_t)1 << 30)
        return ncclInvalidArgument;
    float *r = recvbuff;
    if (sendbuff != recvbuff) memcpy(r, sendbuff, count * sizeof(float));
    if (MPI_Allreduce(MPI_IN_PLACE, r, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return ncclInvalidArgument;
    if (op == ncclAvg) {
        const float inv = 1.0f / (float)comm->nranks;
        for (size_t i = 0; i < count; i++) r[i] *= inv;
    }
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) {
    return r == ncclSuccess ? "no error" : "invalid argument (cuda_emu nccl)";
}

const char *ncclGetLastError(ncclComm_t comm) {
    (void)comm;
    return "";
}
