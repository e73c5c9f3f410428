"""Which person each re-linked cluster becomes (hub.mpi.loading.relink.assign_persons, pure)."""

from __future__ import annotations

from hub.mpi.loading.relink import assign_persons


def test_a_cluster_keeps_the_id_of_the_person_giving_it_most_records() -> None:
    #           records: a  a  a  b  c  c
    old = [1, 1, 1, 2, 3, 3]
    clusters = [10, 10, 10, 10, 30, 30]  # b joins a; c stays as it was
    assert assign_persons(old, clusters) == {10: 1, 30: 3}


def test_a_split_person_keeps_its_id_where_most_of_its_records_go() -> None:
    old = [1, 1, 1, 1]
    clusters = [10, 10, 10, 20]
    assert assign_persons(old, clusters) == {10: 1, 20: None}


def test_an_even_split_keeps_the_id_nowhere() -> None:
    old = [1, 1, 2, 2]
    clusters = [10, 20, 10, 20]  # half of each person goes each way: nobody's id is kept
    assert assign_persons(old, clusters) == {10: None, 20: None}


def test_a_person_moving_whole_into_a_larger_cluster_gives_up_its_id() -> None:
    old = [5, 5, 5, 6, 7]
    clusters = [1, 1, 1, 1, 2]  # 6 joins 5's records; 7 stays alone
    assert assign_persons(old, clusters) == {1: 5, 2: 7}
