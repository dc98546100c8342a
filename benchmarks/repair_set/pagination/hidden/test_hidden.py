from paging import page, page_count


def test_pages_cover_every_item_once():
    items = list(range(23))
    pages = [page(items, n, 5) for n in range(1, page_count(len(items), 5) + 1)]
    assert [x for p in pages for x in p] == items


def test_page_past_the_end_is_empty():
    assert page("abcdef", 3, 3) == []


def test_one_item_pages():
    assert page("abc", 2, 1) == ["b"]
