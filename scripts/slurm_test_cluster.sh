#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests: munged with its own key and socket, slurmctld
# and slurmd with a configuration under DIR (state, spool, logs, pids all there). Needs root and Debian's
# slurm-wlm and munge (make test installs them).
#
#   scripts/slurm_test_cluster.sh up DIR      start it; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm_test_cluster.sh down DIR    stop slurmctld, slurmd and munged started for DIR
set -euo pipefail
fail() { echo "slurm_test_cluster.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root"
dir=${2:?usage: slurm_test_cluster.sh up|down DIR}

down() {
    [ -f "$dir/slurm.conf" ] && SLURM_CONF=$dir/slurm.conf timeout 10 scontrol shutdown > /dev/null 2>&1 || true
    for name in slurmctld slurmd munged; do
        if [ -f "$dir/$name.pid" ]; then
            pid=$(cat "$dir/$name.pid")
            kill "$pid" 2> /dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2> /dev/null || true
            rm -f "$dir/$name.pid"
        fi
    done
}

case "${1:-}" in
up)
    for tool in slurmctld slurmd munged sbatch srun scontrol sinfo; do
        command -v "$tool" > /dev/null || fail "needs $tool (apt-get install -y slurm-wlm munge)"
    done
    mkdir -p "$dir"/{state,spool,log,munge-key,munge-run}
    chmod 0755 "$dir" "$dir/munge-run"   # munged's socket folder must be world-executable
    chmod 0700 "$dir/munge-key"
    chown munge: "$dir/munge-key" "$dir/munge-run"
    [ -f "$dir/munge-key/munge.key" ] || { dd if=/dev/urandom of="$dir/munge-key/munge.key" bs=1024 count=1 2> /dev/null;
                                           chown munge: "$dir/munge-key/munge.key"; chmod 0400 "$dir/munge-key/munge.key"; }
    socket=$dir/munge-run/munge.socket
    runuser -u munge -- munged --key-file "$dir/munge-key/munge.key" --socket "$socket" \
        --pid-file "$dir/munge-run/munged.pid" --log-file "$dir/munge-run/munged.log" --seed-file "$dir/munge-run/seed" --force < /dev/null > /dev/null 2>&1
    for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
    cp "$dir/munge-run/munged.pid" "$dir/munged.pid"
    munge -S "$socket" -n | unmunge -S "$socket" > /dev/null || fail "munge does not work (see $dir/munge-run/munged.log)"
    host=$(hostname -s)
    node=$(slurmd -C | head -1 | sed 's/ UpTime.*//')
    cat > "$dir/slurm.conf" <<CONF
ClusterName=glassboxtest
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$((20000 + RANDOM % 20000))
SlurmdPort=$((40000 + RANDOM % 20000))
MailProg=/bin/true
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    # The daemons must not keep the caller's output open (a test reading it to the end would wait for ever).
    slurmctld -c -f "$SLURM_CONF" < /dev/null > /dev/null 2>&1
    slurmd -f "$SLURM_CONF" < /dev/null > /dev/null 2>&1
    for _ in $(seq 100); do
        sinfo -h -o %T 2> /dev/null | grep -qE '^idle' && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
        sleep 0.1
    done
    down
    fail "the node did not become idle in 10 s (logs in $dir/log)"
    ;;
down)
    down
    ;;
*)
    fail "usage: slurm_test_cluster.sh up|down DIR"
    ;;
esac
