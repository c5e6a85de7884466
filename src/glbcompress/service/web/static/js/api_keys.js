// The API Keys page: copy a new key to the clipboard (and say whether that worked), and confirm
// revoking in a dialog. Without JavaScript the page still works: the key can be selected and
// copied by hand, and Revoke leads to a confirmation page.

const keyInput = document.getElementById("new-key-value");
const copyButton = document.getElementById("copy-key");
const copyStatus = document.getElementById("copy-status");

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: fall back to the selection.
    }
  }
  keyInput.focus();
  keyInput.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

if (keyInput && copyButton) {
  // The key is only in the response to the form; a reload must be a plain GET that shows nothing.
  history.replaceState(null, "", "/keys");
  copyButton.hidden = false;
  keyInput.addEventListener("focus", () => keyInput.select());
  copyButton.addEventListener("click", async () => {
    if (await copyText(keyInput.value)) {
      copyButton.textContent = "Copied";
      copyStatus.textContent = "Copied to the clipboard. Store it now, e.g. in GLBCOMPRESS_API_KEY.";
    } else {
      keyInput.focus();
      keyInput.select();
      copyStatus.textContent = "Your browser did not allow copying. The key is selected: press Ctrl+C (⌘C on a Mac).";
    }
  });
}

const dialog = document.getElementById("revoke-dialog");
const dialogForm = document.getElementById("revoke-dialog-form");
const nameSlot = document.getElementById("revoke-name");

if (dialog && typeof dialog.showModal === "function") {
  document.getElementById("revoke-cancel").addEventListener("click", () => dialog.close());
  for (const form of document.querySelectorAll("form.revoke-form")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      nameSlot.textContent = form.dataset.keyName;
      dialogForm.action = form.action;
      dialog.showModal();
    });
  }
}
