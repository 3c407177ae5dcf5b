from __future__ import annotations

from django import forms

from licensing.document import MAX_DOCUMENT_CHARS


class InstallForm(forms.Form):
    """A license pasted or uploaded in the admin: one of the two."""

    document = forms.CharField(
        label="Paste the license",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
    )
    file = forms.FileField(label="or upload the license file", required=False)

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("document")) == bool(cleaned.get("file")):
            raise forms.ValidationError("Paste the license or upload its file (one of them).")
        return cleaned

    def content(self) -> bytes:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return str(self.cleaned_data["document"]).encode("utf-8")
        # Only as much as licensing.document reads: a huge upload is refused there
        # by its size, without being held whole.
        return bytes(upload.read(MAX_DOCUMENT_CHARS * 4 + 1))
