// MPI_Allreduce (sum, float) time against message size on this machine's
// transport: the measured inputs of the scaling model (scripts/dist_model.py,
// docs/DISTRIBUTED.md "Scaling"). Built and run by scripts/bench_dist.sh:
//   mpicc -O2 bench_allreduce.c -o bench_allreduce
//   mpirun -np 2 ./bench_allreduce [max_floats]
// Prints "floats bytes seconds" per size (median of repeats), rank 0 only.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long max = argc > 1 ? atol(argv[1]) : 26000000L;
    float *buf = malloc((size_t)max * sizeof *buf);
    for (long i = 0; i < max; i++) buf[i] = 1.0f;
    if (rank == 0) printf("# ranks %d\n# floats bytes median_s\n", size);
    for (long n = 1024; n <= max; n = (n * 4 > max && n < max) ? max : n * 4) {
        int reps = n < 1000000 ? 21 : 7;
        double t[32];
        for (int r = -2; r < reps; r++) { // two warm-up rounds
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double dt = MPI_Wtime() - t0, worst;
            MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (r >= 0) t[r] = worst;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        if (rank == 0) printf("%ld %ld %.6f\n", n, n * 4, t[reps / 2]);
        fflush(stdout);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
