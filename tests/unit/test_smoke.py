def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_sample_contest_imports(contest):
    assert contest.slug == "cz-2021-3rd"
    assert len(contest.districts) == 7
