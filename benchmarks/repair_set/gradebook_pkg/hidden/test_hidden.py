from school import Gradebook


def test_one_student():
    book = Gradebook()
    for score in [70, 80, 95]:
        book.add("ana", score)
    assert book.average("ana") == 81.67


def test_ranking_ties_by_name():
    book = Gradebook()
    for name in ["cy", "ana", "bo"]:
        book.add(name, 60)
    book.add("bo", 100)
    assert book.ranking() == ["bo", "ana", "cy"]
