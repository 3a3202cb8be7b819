"""Graph, intent graph, towers and the composed loss on small cases."""
import math

import numpy as np
import scipy.sparse as sp
import torch

from recbole_irllrec.model.graph import bipartite_edges, normalized_adjacency, row_normalized_propagate
from recbole_irllrec.model.intent import IntentGraph
from recbole_irllrec.model.towers import EMATeacher, TextEncoder, TextTower


def _toy_edges():
    # users 0,1 ; items 0,1,2 -> nodes 2,3,4 ; user 0 - item 0,1 ; user 1 - item 1,2 (item 1 twice)
    inter = sp.coo_matrix((np.ones(5), ([0, 0, 1, 1, 1], [0, 1, 1, 2, 1])), shape=(2, 3))
    return bipartite_edges(inter, n_users=2)


def test_edges_are_both_directions_without_duplicates():
    head, tail = _toy_edges()
    pairs = set(zip(head.tolist(), tail.tolist()))
    assert pairs == {(0, 2), (0, 3), (1, 3), (1, 4), (2, 0), (3, 0), (3, 1), (4, 1)}
    assert head.tolist() == sorted(head.tolist())


def test_symmetric_normalisation_by_hand():
    adj = normalized_adjacency(_toy_edges(), 5).to_dense()
    # deg(user 0) = 2, deg(item 1) = 2 -> 1 / sqrt(2 * 2)
    assert math.isclose(adj[0, 3].item(), 0.5, rel_tol=1e-6)
    # deg(user 0) = 2, deg(item 0) = 1 -> 1 / sqrt(2)
    assert math.isclose(adj[0, 2].item(), 1 / math.sqrt(2), rel_tol=1e-6)
    assert torch.allclose(adj, adj.T)


def test_row_normalized_propagation_by_hand():
    head, tail = torch.tensor([0, 0, 1]), torch.tensor([1, 2, 0])
    weight = torch.tensor([1.0, 3.0, 2.0])
    x = torch.tensor([[1.0], [10.0], [100.0]])
    out = row_normalized_propagate(head, tail, weight, x)
    # node 0: (1*10 + 3*100) / 4 ; node 1: x0 ; node 2: no edges -> 0
    assert out.squeeze(1).tolist() == [77.5, 1.0, 0.0]


def test_intent_edge_weights_by_hand():
    edges = _toy_edges()
    graph = IntentGraph(n_users=2, embedding_size=2, intent_num=1, edge_index=edges)
    with torch.no_grad():
        # one prototype per side: every user's intent is P_U, every item's P_I
        graph.user_prototypes.copy_(torch.tensor([[1.0], [0.0]]))
        graph.item_prototypes.copy_(torch.tensor([[0.0], [1.0]]))
    e = torch.tensor([[1.0, 0], [0, 1], [2.0, 0], [0, 3.0], [5.0, 5.0]])
    r = graph([e])
    # cos(P_U, P_I) = 0 -> every edge weight 1/2, row-normalised to a plain mean
    assert torch.allclose(r[0], (e[2] + e[3]) / 2)
    assert torch.allclose(r[3], (e[0] + e[1]) / 2)
    # averaged over layers
    assert torch.allclose(graph([e, 3 * e])[0], 2 * (e[2] + e[3]) / 2)


def test_intent_rows_restricted_to_nodes_equal_full_computation():
    torch.manual_seed(0)
    inter = sp.random(20, 15, density=0.3, random_state=0, format="coo")
    edges = bipartite_edges(inter, n_users=20)
    graph = IntentGraph(n_users=20, embedding_size=4, intent_num=3, edge_index=edges)
    layers = [torch.randn(35, 4) for _ in range(3)]
    nodes = torch.tensor([1, 5, 22, 30])
    assert torch.allclose(graph(layers, nodes=nodes), graph(layers)[nodes], atol=1e-6)


def test_tower_shape_and_ema_update():
    tower = TextTower(10, 4)
    assert tower[0].out_features == (10 + 4) // 2
    teacher = EMATeacher(tower, momentum=0.9)
    assert all(torch.equal(a, b) for a, b in zip(teacher.parameters(), tower.parameters()))
    assert not any(p.requires_grad for p in teacher.parameters())
    before = [p.clone() for p in teacher.parameters()]
    with torch.no_grad():
        for p in tower.parameters():
            p.add_(1.0)
    teacher.update(tower)
    for b, t, s in zip(before, teacher.parameters(), tower.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * s)


def test_teacher_reinit_reproduces_reference_quirk():
    torch.manual_seed(0)
    tower = TextTower(10, 4)
    teacher = EMATeacher(tower, momentum=0.9, reinit=True)
    assert not torch.equal(teacher.tower[0].weight, tower[0].weight)


def test_teacher_following_the_student_equals_a_full_teacher_forward():
    torch.manual_seed(0)
    text = TextEncoder(torch.randn(5, 10), torch.randn(7, 10), 4)
    student, x = text.tower, torch.cat([text.user_vectors, text.item_vectors])
    followed, plain = EMATeacher(student, momentum=0.9, reinit=True), EMATeacher(student, momentum=0.9, reinit=True)
    plain.tower.load_state_dict(followed.tower.state_dict())
    optimizer = torch.optim.SGD(student.parameters(), lr=0.05)
    for step in range(4):
        followed.update(student)
        plain.update(student)
        hidden, _ = text.with_hidden()
        assert torch.allclose(followed.follow(text, hidden), plain(x), atol=1e-5), step
        optimizer.zero_grad()
        text().pow(2).mean().backward()
        optimizer.step()
    # weights loaded from elsewhere (a checkpoint) invalidate the carried pre-activation
    with torch.no_grad():
        followed.tower[0].weight.mul_(2.0)
        plain.tower[0].weight.mul_(2.0)
    followed.update(student)
    plain.update(student)
    assert torch.allclose(followed.follow(text, text.with_hidden()[0]), plain(x), atol=1e-5)


def test_intent_graph_neighbor_cap_reads_at_most_k_edges_per_node():
    inter = sp.random(20, 15, density=0.5, random_state=1, format="coo")
    edges = bipartite_edges(inter, n_users=20)
    nodes = torch.tensor([1, 5, 22, 30])
    exact = IntentGraph(n_users=20, embedding_size=4, intent_num=3, edge_index=edges)
    capped = IntentGraph(n_users=20, embedding_size=4, intent_num=3, edge_index=edges, max_neighbors=2)
    head, tail = capped._edges_of(nodes)
    assert torch.bincount(head, minlength=35)[nodes].max() <= 2
    # every drawn edge is a real edge of its head
    real = set(zip(*edges.tolist()))
    assert all((h, t) in real for h, t in zip(head.tolist(), tail.tolist()))
    # a cap above every degree changes nothing
    loose = IntentGraph(n_users=20, embedding_size=4, intent_num=3, edge_index=edges, max_neighbors=100)
    loose.load_state_dict(exact.state_dict())
    layers = [torch.randn(35, 4) for _ in range(2)]
    assert torch.allclose(loose(layers, nodes=nodes), exact(layers, nodes=nodes))
