#!/usr/bin/env bash
# Runs the compressed all-reduce test on 4 MPI ranks on this machine. Skips (77) without mpirun.
set -u
prog=$1
# $2 = 1 when the MPI plugin was built: the test must then find it (fails instead of skipping).
export RAI_EXPECT_MPI=${2:-0}
command -v mpirun >/dev/null || { echo "mpirun not found: skipped"; exit 77; }
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_plm=isolated OMPI_MCA_btl_vader_single_copy_mechanism=none
exec mpirun -np 4 --oversubscribe --allow-run-as-root "$prog"
